// Package clientopts holds the options that point a Google Cloud client at
// an emulator or stand-in server instead of the real service, shared by
// every client this project builds.
package clientopts

import (
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Emulator returns the options that reach host (host:port) in plaintext and
// without credentials, as emulators expect; none when host is empty, which
// means the real service with Application Default Credentials.
func Emulator(host string) []option.ClientOption {
	if host == "" {
		return nil
	}
	return []option.ClientOption{
		option.WithEndpoint(host),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}
