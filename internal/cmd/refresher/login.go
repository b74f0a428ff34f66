package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"flag"
	"fmt"
	"net/url"
	"strings"

	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
)

func init() {
	commands["login"] = func() *command {
		var redirectURI, scope, appSecretFile, platformName string
		var o onboardOptions
		return &command{
			summary: "log in through Threads or Instagram (app ID and secret) and store the long-lived token for ACCOUNT",
			usage:   "[--platform threads|instagram] --redirect-uri URI [--scope LIST] [--app-secret-file FILE] [--create] [--replace-user] ACCOUNT",
			example: "  export THREADS_APP_ID=1234567890 THREADS_APP_SECRET=...\n  refresher login --redirect-uri https://example.com/callback main\n  # open the printed URL, approve, paste the URL you land on\n" +
				"  export INSTAGRAM_APP_ID=... INSTAGRAM_APP_SECRET=...\n  refresher login --platform instagram --redirect-uri https://example.com/callback shop",
			flags: func(fs *flag.FlagSet) {
				platformFlag(fs, &platformName)
				fs.StringVar(&redirectURI, "redirect-uri", "", "redirect `URI` exactly as registered in the app (required)")
				fs.StringVar(&scope, "scope", "", "comma-separated `scopes` to ask for (default: the permission a refresh needs, threads_basic or instagram_business_basic, and every scope the account's token had)")
				fs.StringVar(&appSecretFile, "app-secret-file", "", "read the app secret from `FILE` instead of THREADS_APP_SECRET (INSTAGRAM_APP_SECRET with --platform instagram)")
				o.flags(fs, "create the Secret Manager secret when it does not exist")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				p, err := platformNamed(platformName)
				if err != nil {
					return err
				}
				account, err := accountArg("login", args)
				if err != nil {
					return err
				}
				appID, err := appID(e, p)
				if err != nil {
					return err
				}
				if redirectURI == "" {
					return usagef("--redirect-uri is required: give the redirect URI registered in the %s app", p.Name)
				}
				if u, err := url.Parse(redirectURI); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
					return usagef("--redirect-uri %q is not an http(s) URL", redirectURI)
				}
				scopes := splitScopes(scope)
				if scope != "" && len(scopes) == 0 {
					return usagef("--scope is empty; %s is needed to refresh tokens", p.Permission)
				}
				secret, err := appSecret(e, p, appSecretFile)
				if err != nil {
					return err
				}
				return onboard(ctx, e, account, o, p, func(ctx context.Context, client *graph.Client, had existing) (obtained, error) {
					asked := scopes
					if len(asked) == 0 {
						// A relink asks for what the account's token had.
						asked = loginScopes(p, had.scopes)
					}
					got, err := login(ctx, e, client, loginRequest{appID: appID, appSecret: secret, redirectURI: redirectURI, scopes: asked})
					got.asked = asked
					return got, err
				})
			},
		}
	}
}

type loginRequest struct {
	appID, appSecret, redirectURI string
	scopes                        []string
}

// login runs Meta's authorization code flow by hand: the person opens the
// URL, approves, and pastes back where they landed. The code becomes a
// short-lived token, and that a long-lived one.
func login(ctx context.Context, e *env, client *graph.Client, r loginRequest) (obtained, error) {
	state, err := randomState()
	if err != nil {
		return obtained{}, err
	}
	p := client.Platform()
	fmt.Fprintf(e.stderr, "Open this URL in a browser, log in and approve the app:\n\n  %s\n\n",
		p.AuthorizeURL("", r.appID, r.redirectURI, r.scopes, state))
	line, err := readLine(e, "Then paste the URL you were redirected to (or just the code) and press Enter:\n> ")
	if err != nil {
		return obtained{}, err
	}
	code, err := codeFrom(line, state, p.Name)
	if err != nil {
		return obtained{}, err
	}
	short, err := client.ExchangeCode(ctx, graph.CodeRequest{
		ClientID: r.appID, ClientSecret: r.appSecret, Code: code, RedirectURI: r.redirectURI,
	})
	if err != nil {
		return obtained{}, fmt.Errorf("exchanging the authorization code: %w", err)
	}
	long, err := client.Exchange(ctx, r.appSecret, short.AccessToken)
	if err != nil {
		return obtained{}, fmt.Errorf("exchanging the short-lived token for a long-lived one: %w", err)
	}
	return obtained{token: long.AccessToken, expiresIn: long.ExpiresIn, receivedAt: e.now()}, nil
}

// codeFrom takes the code out of what was pasted: the redirected URL (whose
// state must match) or the bare code. Meta appends "#_" to the redirect; it
// is not part of the code. platform names who refused, if anyone did.
func codeFrom(pasted, state, platform string) (string, error) {
	if pasted == "" {
		return "", usagef("nothing pasted: paste the redirected URL or the code")
	}
	if strings.HasPrefix(pasted, "http://") || strings.HasPrefix(pasted, "https://") {
		u, err := url.Parse(pasted)
		if err != nil {
			return "", usagef("the pasted URL cannot be read: %v", scrubbedURLError(err))
		}
		q := u.Query()
		if msg := q.Get("error_description"); msg != "" || q.Get("error") != "" {
			return "", usagef("%s refused the authorization: %s", platform, strings.TrimSpace(q.Get("error")+" "+msg))
		}
		got := q.Get("state")
		if subtle.ConstantTimeCompare([]byte(got), []byte(state)) != 1 {
			return "", usagef("the pasted URL's state does not match this login; start `refresher login` again and paste the URL of this attempt")
		}
		pasted = q.Get("code")
		if pasted == "" {
			return "", usagef("the pasted URL has no code parameter")
		}
	}
	code := strings.TrimSuffix(pasted, "#_")
	if code == "" || strings.ContainsAny(code, " \t\"'#&?") {
		return "", usagef("the pasted code is not valid; paste the whole redirected URL instead")
	}
	return code, nil
}

// scrubbedURLError keeps a URL parse error from echoing the URL, which
// holds the code.
func scrubbedURLError(err error) string {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err.Error()
	}
	return "malformed URL"
}

func splitScopes(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func randomState() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("making the login state: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
