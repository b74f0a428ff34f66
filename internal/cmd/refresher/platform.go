package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
	"github.com/threads-token-refresher/threads-token-refresher/internal/instagram"
	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/threads"
)

// platform is what onboarding needs to know of one platform beyond its
// Graph API client: where its app's ID and secret come from.
type platform struct {
	// id names the platform in payloads and in --platform.
	id string
	graph.Platform
	appIDVar, appSecretVar string
	// appIDHint says where to find the app ID.
	appIDHint string
}

// platforms are the platforms onboarding knows, the default first.
var platforms = []platform{
	{
		id: payload.PlatformThreads, Platform: threads.Platform,
		appIDVar: "THREADS_APP_ID", appSecretVar: "THREADS_APP_SECRET",
		appIDHint: "the Threads app ID from the Meta app dashboard",
	},
	{
		id: payload.PlatformInstagram, Platform: instagram.Platform,
		appIDVar: "INSTAGRAM_APP_ID", appSecretVar: "INSTAGRAM_APP_SECRET",
		appIDHint: "the Instagram app ID from the app dashboard (Instagram > API setup with Instagram login), not the Meta app's",
	},
}

// platformFlag declares --platform.
func platformFlag(fs *flag.FlagSet, name *string) {
	fs.StringVar(name, "platform", payload.DefaultPlatform, "the `PLATFORM` the token is for: "+platformNames())
}

// platformNamed returns the platform --platform names.
func platformNamed(name string) (platform, error) {
	for _, p := range platforms {
		if p.id == strings.ToLower(strings.TrimSpace(name)) {
			return p, nil
		}
	}
	return platform{}, usagef("--platform %q is not a platform this refresher keeps tokens for; use %s", name, platformNames())
}

func platformNames() string {
	names := make([]string, len(platforms))
	for i, p := range platforms {
		names[i] = p.id
	}
	return strings.Join(names, " or ")
}

// appSecret reads the platform's app secret from a file or its variable.
func appSecret(e *env, p platform, path string) (string, error) {
	if path != "" {
		return readSecret(&env{stdin: strings.NewReader(""), stderr: e.stderr}, path, "app secret", "--app-secret-file")
	}
	if v, _ := e.lookup(p.appSecretVar); strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v), nil
	}
	return "", usagef("no app secret: set %s or use --app-secret-file", p.appSecretVar)
}

// appID reads the platform's app ID from its variable.
func appID(e *env, p platform) (string, error) {
	v, _ := e.lookup(p.appIDVar)
	if v = strings.TrimSpace(v); v == "" {
		return "", usagef("%s is not set; it is %s", p.appIDVar, p.appIDHint)
	}
	return v, nil
}

// describeUser names a user for people: "@alice (Instagram user 1784…)".
func describeUser(p platform, u graph.User) string {
	return fmt.Sprintf("@%s (%s user %s)", u.Username, p.Name, u.ID)
}
