package threadsfake

import (
	"encoding/json"
	"net/http"
)

// face is what tells the platforms apart: everything else (lifetimes,
// rules, error codes, failures) is the Graph API's and shared.
type face struct {
	tokenPrefix   string
	refreshGrant  string
	exchangeGrant string
	mePath        string
	// debugTokenPath serves token inspection; "" for none (Instagram, whose
	// fake then answers it as any unknown path).
	debugTokenPath string
	// meIDField is the field of /me's answer holding the user's ID.
	meIDField string
	// apiException is the platform's own Graph error type.
	apiException string
	// separateOAuth: codes are exchanged on a host of their own, which
	// answers its refusals in the flat shape and its tokens as
	// {"data":[{...}]} (or flat, with FlatCodeAnswer).
	separateOAuth bool
}

var (
	threadsFace = face{
		tokenPrefix: "THAA", refreshGrant: "th_refresh_token", exchangeGrant: "th_exchange_token",
		mePath: PathMe, debugTokenPath: PathDebugToken, meIDField: "id", apiException: "THApiException",
	}
	instagramFace = face{
		tokenPrefix: "IGAA", refreshGrant: "ig_refresh_token", exchangeGrant: "ig_exchange_token",
		mePath: PathInstagramMe, meIDField: "user_id", apiException: "IGApiException",
		separateOAuth: true,
	}
)

// meAnswer is /me's answer for the user with the fields asked for. Threads
// answers its ID as "id"; Instagram answers the professional account's ID
// as "user_id" and an app-scoped "id" beside it, whatever was asked.
func (s *Server) meAnswer(userID, username string, fields []string) map[string]any {
	answer := map[string]any{s.face.meIDField: userID}
	if s.face.meIDField != "id" {
		answer["id"] = appScopedID(userID)
	}
	for _, f := range fields {
		if f == "username" {
			answer["username"] = username
		}
	}
	return answer
}

// appScopedID is the fake's stand-in for an app-scoped user ID: another
// number, derived from the user's so that it is stable.
func appScopedID(userID string) string {
	if userID == "" {
		return ""
	}
	return "9" + userID
}

// writeCodeAnswer answers a successful code exchange: flat on Threads,
// {"data":[{...}]} on Instagram unless FlatCodeAnswer.
func (s *Server) writeCodeAnswer(w http.ResponseWriter, token, userID string) {
	var id any = json.Number(userID)
	if s.userIDString || !isDigits(userID) {
		id = userID
	}
	answer := map[string]any{"access_token": token, "user_id": id}
	if !s.face.separateOAuth {
		writeJSON(w, http.StatusOK, answer)
		return
	}
	answer["permissions"] = "instagram_business_basic"
	if s.flatCode {
		writeJSON(w, http.StatusOK, answer)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": []any{answer}})
}

// writeCodeRefusal answers a refused code exchange: in the Graph shape on
// Threads, in the flat shape on Instagram's OAuth host. The Graph codes are
// the ones Threads answers; the OAuth host answers code 400 throughout (the
// fake's choice: Meta documents neither).
func (s *Server) writeCodeRefusal(w http.ResponseWriter, e graphError) {
	if !s.face.separateOAuth {
		writeGraphError(w, http.StatusBadRequest, e)
		return
	}
	writeJSON(w, http.StatusBadRequest, map[string]any{
		"error_type": "OAuthException", "code": 400, "error_message": e.Message,
	})
}
