package smfake

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
)

// VersionInfo is what the server holds of one secret version.
type VersionInfo struct {
	// Name is the version's name as the server answers it.
	Name       string
	Number     int64
	State      secretmanagerpb.SecretVersion_State
	CreateTime time.Time
	// Payload is nil once the version is destroyed.
	Payload []byte
}

// The helpers below seed and inspect the server's state directly, without a
// call (nothing is counted and no fault applies). They panic on a malformed
// or unknown name, which is a mistake in the test.

// CreateSecret creates the secret "projects/{project}/secrets/{id}" with
// automatic replication and no labels.
func (s *Server) CreateSecret(name string) {
	p, id, ok := parseSecret(name)
	if !ok || !secretID.MatchString(id) {
		panic(fmt.Sprintf("smfake: CreateSecret(%q): not a secret name", name))
	}
	s.svc.mu.Lock()
	defer s.svc.mu.Unlock()
	tmpl := &secretmanagerpb.Secret{Replication: &secretmanagerpb.Replication{
		Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}},
	}}
	if _, err := s.svc.createSecret(p, id, tmpl); err != nil {
		panic(fmt.Sprintf("smfake: CreateSecret(%q): %v", name, err))
	}
}

// AddVersion adds an enabled version holding payload to secretName, created
// at createTime (the server's clock when zero), and returns its name.
func (s *Server) AddVersion(secretName string, payload []byte, createTime time.Time) string {
	s.svc.mu.Lock()
	defer s.svc.mu.Unlock()
	sec := s.mustSecret("AddVersion", secretName)
	if createTime.IsZero() {
		createTime = s.svc.stamp()
	}
	v := s.svc.addVersion(sec, payload, true, createTime.Truncate(time.Microsecond))
	return sec.versionName(v)
}

// SetVersionState puts a version in state, bypassing the rules of the
// service's calls (a destroyed version may even be re-enabled, with its
// payload gone for good).
func (s *Server) SetVersionState(versionName string, state secretmanagerpb.SecretVersion_State) {
	s.svc.mu.Lock()
	defer s.svc.mu.Unlock()
	_, v, err := s.svc.lookupVersion(versionName, false)
	if err != nil {
		panic(fmt.Sprintf("smfake: SetVersionState(%q): %v", versionName, err))
	}
	s.svc.setState(v, state)
}

// Versions returns every version of secretName, oldest first.
func (s *Server) Versions(secretName string) []VersionInfo {
	s.svc.mu.Lock()
	defer s.svc.mu.Unlock()
	sec := s.mustSecret("Versions", secretName)
	infos := make([]VersionInfo, 0, len(sec.versions))
	for _, v := range sec.versions {
		infos = append(infos, VersionInfo{
			Name:       sec.versionName(v),
			Number:     v.number,
			State:      v.state,
			CreateTime: v.createTime,
			Payload:    slices.Clone(v.payload),
		})
	}
	return infos
}

// Labels returns the labels of secretName.
func (s *Server) Labels(secretName string) map[string]string {
	s.svc.mu.Lock()
	defer s.svc.mu.Unlock()
	return maps.Clone(s.mustSecret("Labels", secretName).pb.GetLabels())
}

// HasSecret reports whether secretName exists.
func (s *Server) HasSecret(secretName string) bool {
	s.svc.mu.Lock()
	defer s.svc.mu.Unlock()
	_, err := s.svc.lookupSecret(secretName)
	return err == nil
}

func (s *Server) mustSecret(helper, name string) *secret {
	sec, err := s.svc.lookupSecret(name)
	if err != nil {
		panic(fmt.Sprintf("smfake: %s(%q): %v", helper, name, err))
	}
	return sec
}
