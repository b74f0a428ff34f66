package statestore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// AccountsField is the field of an account-list document (the function's
// THREADS_SECRETS_DOCUMENT) that lists the accounts: one string, what
// THREADS_SECRETS would hold (comma-separated secret IDs). One string, not
// an array: Firestore indexes each value of an array apart (at most 40,000
// index entries a document), and a string longer than 1,500 bytes not at
// all; a document holds up to 1 MiB, about 17,000 IDs of 60 characters.
const AccountsField = "secrets"

// ErrNoAccountList: the account-list document, or its field, is missing.
var ErrNoAccountList = errors.New("no account list")

// AccountList reads the account list in the document at path
// (COLLECTION/DOCUMENT) of the store's database: one document read. The
// Terraform module writes it; the function reads it at the start of every
// pass, so that a new account needs no new revision of the function.
func (s *Store) AccountList(ctx context.Context, path string) (string, error) {
	doc := s.client.Doc(path)
	if doc == nil || strings.Count(path, "/") != 1 {
		return "", fmt.Errorf("reading the account list: %q is not a document path COLLECTION/DOCUMENT", path)
	}
	snap, err := doc.Get(ctx)
	if status.Code(err) == codes.NotFound {
		return "", fmt.Errorf("reading the account list: the document %s does not exist (terraform apply writes it): %w", path, ErrNoAccountList)
	}
	if err != nil {
		return "", fmt.Errorf("reading the account list %s: %w", path, err)
	}
	v, err := snap.DataAt(AccountsField)
	if err != nil {
		return "", fmt.Errorf("reading the account list: the document %s has no field %q: %w", path, AccountsField, ErrNoAccountList)
	}
	list, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("reading the account list: the field %q of %s is a %T, not a string of comma-separated secret IDs", AccountsField, path, v)
	}
	return list, nil
}
