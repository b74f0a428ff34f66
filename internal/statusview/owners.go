package statusview

import (
	"cmp"
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// Owner is what people are shown of a token's owner.
type Owner struct {
	// Platform is the token's platform, "-" when unknown.
	Platform string
	// User is "@username", "-" when unknown.
	User string
}

// MaxOwnerLookups is the most accounts whose usernames Owners reads. Each
// costs a version listing and an access of Secret Manager, whose read quota
// (600 a minute a project) the passes need: a status page open at 1,000
// accounts, reloading every minute, would spend more than all of it. Past
// it, users show as "-" and cost nothing.
const MaxOwnerLookups = 25

// Owners reads the username kept beside each account's current token, and
// its platform where the report does not name it yet, for people reading a
// status; for at most MaxOwnerLookups accounts. What cannot be read shows
// as "-"; the token itself never leaves this function. account names an
// account of the store in use by its ID.
func Owners(ctx context.Context, secrets refresh.SecretStore, account func(id string) refresh.Account, reports []refresh.AccountReport) []Owner {
	out := make([]Owner, len(reports))
	if len(reports) > MaxOwnerLookups {
		for i, r := range reports {
			out[i] = Owner{Platform: cmp.Or(r.Platform, "-"), User: "-"}
		}
		return out
	}
	var g errgroup.Group
	g.SetLimit(8)
	for i, r := range reports {
		g.Go(func() error {
			out[i] = Owner{Platform: r.Platform, User: "-"}
			_, raw, err := refresh.Current(ctx, secrets, account(r.Account))
			if err != nil {
				return nil
			}
			p, err := payload.Parse(raw)
			if err != nil {
				return nil
			}
			if p.Field("username") != "" {
				out[i].User = "@" + p.Field("username")
			}
			if out[i].Platform == "" {
				out[i].Platform = p.Platform()
			}
			return nil
		})
	}
	_ = g.Wait()
	for i := range out {
		if out[i].Platform == "" {
			out[i].Platform = "-"
		}
	}
	return out
}
