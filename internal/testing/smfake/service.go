package smfake

import (
	"context"
	"fmt"
	"hash/crc32"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// maxPayload is the largest secret payload the real service accepts.
const maxPayload = 64 << 10

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	secretID   = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,255}$`)
)

// service implements the gRPC service over the in-memory state.
type service struct {
	secretmanagerpb.UnimplementedSecretManagerServiceServer

	mu      sync.Mutex
	now     func() time.Time
	maxPage int
	// numbers maps project IDs to the project numbers answers name.
	numbers map[string]string
	tamper  func(*secretmanagerpb.AccessSecretVersionResponse)
	// secrets is keyed by the secret's name as answered.
	secrets map[string]*secret
	etags   int64
}

type secret struct {
	// pb is the secret as answered, without its versions.
	pb      *secretmanagerpb.Secret
	project string
	id      string
	// versions[n-1] is version n: numbers are never reused.
	versions []*version
}

type version struct {
	number      int64
	state       secretmanagerpb.SecretVersion_State
	createTime  time.Time
	destroyTime time.Time
	payload     []byte
	checksummed bool
	etag        string
}

func statusf(code codes.Code, format string, args ...any) error {
	return status.Errorf(code, format, args...)
}

func contextStatus(ctx context.Context) error {
	return status.FromContextError(ctx.Err()).Err()
}

// stamp reads the clock at the service's precision (microseconds).
func (s *service) stamp() time.Time { return s.now().Truncate(time.Microsecond) }

func (s *service) nextEtag() string {
	s.etags++
	return fmt.Sprintf("%q", strconv.FormatInt(s.etags, 16))
}

// project returns the name answers give project p.
func (s *service) project(p string) string {
	if n, ok := s.numbers[p]; ok {
		return n
	}
	return p
}

func parseProject(name string) (string, bool) {
	p, ok := strings.CutPrefix(name, "projects/")
	return p, ok && p != "" && !strings.Contains(p, "/")
}

func parseSecret(name string) (project, id string, ok bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[1] == "" || parts[2] != "secrets" || parts[3] == "" {
		return "", "", false
	}
	return parts[1], parts[3], true
}

func parseVersion(name string) (project, id, version string, ok bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 6 || parts[4] != "versions" || parts[5] == "" {
		return "", "", "", false
	}
	project, id, ok = parseSecret(strings.Join(parts[:4], "/"))
	return project, id, parts[5], ok
}

func (s *service) secretName(project, id string) string {
	return "projects/" + s.project(project) + "/secrets/" + id
}

func (s *service) lookupSecret(name string) (*secret, error) {
	p, id, ok := parseSecret(name)
	if !ok {
		return nil, statusf(codes.InvalidArgument, "Invalid resource field value in the request: secret name %q", name)
	}
	sec, ok := s.secrets[s.secretName(p, id)]
	if !ok {
		return nil, statusf(codes.NotFound, "Secret [%s] not found or has no versions.", s.secretName(p, id))
	}
	return sec, nil
}

// lookupVersion finds a version by name; with allowLatest, the version
// "latest" is the most recently created one, whatever its state, as in the
// real service.
func (s *service) lookupVersion(name string, allowLatest bool) (*secret, *version, error) {
	p, id, v, ok := parseVersion(name)
	if !ok {
		return nil, nil, statusf(codes.InvalidArgument, "Invalid resource field value in the request: version name %q", name)
	}
	sec, err := s.lookupSecret("projects/" + p + "/secrets/" + id)
	if err != nil {
		return nil, nil, err
	}
	if v == "latest" && allowLatest {
		if len(sec.versions) == 0 {
			return nil, nil, statusf(codes.NotFound, "Secret [%s] not found or has no versions.", sec.pb.Name)
		}
		return sec, sec.versions[len(sec.versions)-1], nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return nil, nil, statusf(codes.InvalidArgument, "Invalid resource field value in the request: version %q", v)
	}
	if n > int64(len(sec.versions)) {
		return nil, nil, statusf(codes.NotFound, "Secret Version [%s/versions/%d] not found.", sec.pb.Name, n)
	}
	return sec, sec.versions[n-1], nil
}

func (s *service) pageSize(n int32) (int, error) {
	if n < 0 {
		return 0, statusf(codes.InvalidArgument, "page_size must not be negative")
	}
	if n == 0 || int(n) > s.maxPage {
		return s.maxPage, nil
	}
	return int(n), nil
}

func (sec *secret) versionName(v *version) string {
	return sec.pb.Name + "/versions/" + strconv.FormatInt(v.number, 10)
}

func (sec *secret) versionPB(v *version) *secretmanagerpb.SecretVersion {
	pb := &secretmanagerpb.SecretVersion{
		Name:                           sec.versionName(v),
		CreateTime:                     timestamppb.New(v.createTime),
		State:                          v.state,
		Etag:                           v.etag,
		ClientSpecifiedPayloadChecksum: v.checksummed,
		ReplicationStatus:              replicationStatus(sec.pb.GetReplication()),
	}
	if !v.destroyTime.IsZero() {
		pb.DestroyTime = timestamppb.New(v.destroyTime)
	}
	return pb
}

func replicationStatus(r *secretmanagerpb.Replication) *secretmanagerpb.ReplicationStatus {
	if um := r.GetUserManaged(); um != nil {
		st := &secretmanagerpb.ReplicationStatus_UserManagedStatus{}
		for _, rep := range um.GetReplicas() {
			st.Replicas = append(st.Replicas, &secretmanagerpb.ReplicationStatus_UserManagedStatus_ReplicaStatus{Location: rep.GetLocation()})
		}
		return &secretmanagerpb.ReplicationStatus{ReplicationStatus: &secretmanagerpb.ReplicationStatus_UserManaged{UserManaged: st}}
	}
	return &secretmanagerpb.ReplicationStatus{ReplicationStatus: &secretmanagerpb.ReplicationStatus_Automatic{Automatic: &secretmanagerpb.ReplicationStatus_AutomaticStatus{}}}
}

// createSecret stores a new secret; it is the common part of the RPC and
// of the seeding helper.
func (s *service) createSecret(project, id string, tmpl *secretmanagerpb.Secret) (*secret, error) {
	name := s.secretName(project, id)
	if _, ok := s.secrets[name]; ok {
		return nil, statusf(codes.AlreadyExists, "Secret [%s] already exists.", name)
	}
	pb := proto.Clone(tmpl).(*secretmanagerpb.Secret)
	pb.Name = name
	pb.CreateTime = timestamppb.New(s.stamp())
	pb.Etag = s.nextEtag()
	sec := &secret{pb: pb, project: s.project(project), id: id}
	s.secrets[name] = sec
	return sec, nil
}

func (s *service) addVersion(sec *secret, data []byte, checksummed bool, created time.Time) *version {
	v := &version{
		number:      int64(len(sec.versions)) + 1,
		state:       secretmanagerpb.SecretVersion_ENABLED,
		createTime:  created,
		payload:     slices.Clone(data),
		checksummed: checksummed,
		etag:        s.nextEtag(),
	}
	if v.payload == nil {
		v.payload = []byte{}
	}
	sec.versions = append(sec.versions, v)
	return v
}

func (s *service) setState(v *version, state secretmanagerpb.SecretVersion_State) {
	v.state = state
	v.etag = s.nextEtag()
	if state == secretmanagerpb.SecretVersion_DESTROYED {
		v.payload = nil
		v.destroyTime = s.stamp()
	}
}

func (s *service) ListSecrets(ctx context.Context, req *secretmanagerpb.ListSecretsRequest) (*secretmanagerpb.ListSecretsResponse, error) {
	p, ok := parseProject(req.GetParent())
	if !ok {
		return nil, statusf(codes.InvalidArgument, "Invalid resource field value in the request: parent %q", req.GetParent())
	}
	if req.GetFilter() != "" {
		return nil, statusf(codes.Unimplemented, "smfake: filters are not supported")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	size, err := s.pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	var all []*secret
	for _, sec := range s.secrets {
		if sec.project == s.project(p) {
			all = append(all, sec)
		}
	}
	slices.SortFunc(all, func(a, b *secret) int { return strings.Compare(a.id, b.id) })
	// The page token is the ID of the last secret of the previous page, so
	// that paging stays consistent while secrets come and go.
	start := 0
	if tok := req.GetPageToken(); tok != "" {
		start, _ = slices.BinarySearchFunc(all, tok, func(sec *secret, tok string) int { return strings.Compare(sec.id, tok) })
		if start < len(all) && all[start].id == tok {
			start++
		}
	}
	resp := &secretmanagerpb.ListSecretsResponse{TotalSize: int32(len(all))}
	end := min(start+size, len(all))
	for _, sec := range all[start:end] {
		resp.Secrets = append(resp.Secrets, proto.Clone(sec.pb).(*secretmanagerpb.Secret))
	}
	if end < len(all) {
		resp.NextPageToken = all[end-1].id
	}
	return resp, nil
}

func (s *service) CreateSecret(ctx context.Context, req *secretmanagerpb.CreateSecretRequest) (*secretmanagerpb.Secret, error) {
	p, ok := parseProject(req.GetParent())
	if !ok {
		return nil, statusf(codes.InvalidArgument, "Invalid resource field value in the request: parent %q", req.GetParent())
	}
	if !secretID.MatchString(req.GetSecretId()) {
		return nil, statusf(codes.InvalidArgument, "Invalid secret_id %q: it must match [a-zA-Z0-9_-]{1,255}", req.GetSecretId())
	}
	if req.GetSecret() == nil {
		return nil, statusf(codes.InvalidArgument, "secret is required")
	}
	if req.GetSecret().GetReplication() == nil {
		return nil, statusf(codes.InvalidArgument, "secret.replication is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.createSecret(p, req.GetSecretId(), req.GetSecret())
	if err != nil {
		return nil, err
	}
	return proto.Clone(sec.pb).(*secretmanagerpb.Secret), nil
}

func (s *service) GetSecret(ctx context.Context, req *secretmanagerpb.GetSecretRequest) (*secretmanagerpb.Secret, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.lookupSecret(req.GetName())
	if err != nil {
		return nil, err
	}
	return proto.Clone(sec.pb).(*secretmanagerpb.Secret), nil
}

func (s *service) DeleteSecret(ctx context.Context, req *secretmanagerpb.DeleteSecretRequest) (*emptypb.Empty, error) {
	if req.GetEtag() != "" {
		return nil, statusf(codes.Unimplemented, "smfake: etags are not supported")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.lookupSecret(req.GetName())
	if err != nil {
		return nil, err
	}
	delete(s.secrets, sec.pb.Name)
	return &emptypb.Empty{}, nil
}

func (s *service) AddSecretVersion(ctx context.Context, req *secretmanagerpb.AddSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	payload := req.GetPayload()
	if payload == nil {
		return nil, statusf(codes.InvalidArgument, "payload is required")
	}
	if len(payload.GetData()) > maxPayload {
		return nil, statusf(codes.InvalidArgument, "Secret payload data length must be less than or equal to %d bytes", maxPayload)
	}
	if payload.DataCrc32C != nil && int64(crc32.Checksum(payload.GetData(), castagnoli)) != payload.GetDataCrc32C() {
		return nil, statusf(codes.InvalidArgument, "Checksum mismatch: the data_crc32c does not match the payload data.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.lookupSecret(req.GetParent())
	if err != nil {
		return nil, err
	}
	v := s.addVersion(sec, payload.GetData(), payload.DataCrc32C != nil, s.stamp())
	return sec.versionPB(v), nil
}

func (s *service) ListSecretVersions(ctx context.Context, req *secretmanagerpb.ListSecretVersionsRequest) (*secretmanagerpb.ListSecretVersionsResponse, error) {
	if req.GetFilter() != "" {
		return nil, statusf(codes.Unimplemented, "smfake: filters are not supported")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	size, err := s.pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	sec, err := s.lookupSecret(req.GetParent())
	if err != nil {
		return nil, err
	}
	// Newest first. The page token is the number of the next version to
	// list, so that versions added while paging do not shift pages.
	start := int64(len(sec.versions))
	if tok := req.GetPageToken(); tok != "" {
		n, err := strconv.ParseInt(tok, 10, 64)
		if err != nil || n < 1 {
			return nil, statusf(codes.InvalidArgument, "invalid page_token")
		}
		start = min(n, start)
	}
	resp := &secretmanagerpb.ListSecretVersionsResponse{TotalSize: int32(len(sec.versions))}
	n := start
	for ; n >= 1 && len(resp.Versions) < size; n-- {
		resp.Versions = append(resp.Versions, sec.versionPB(sec.versions[n-1]))
	}
	if n >= 1 {
		resp.NextPageToken = strconv.FormatInt(n, 10)
	}
	return resp, nil
}

func (s *service) GetSecretVersion(ctx context.Context, req *secretmanagerpb.GetSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, v, err := s.lookupVersion(req.GetName(), true)
	if err != nil {
		return nil, err
	}
	return sec.versionPB(v), nil
}

func (s *service) AccessSecretVersion(ctx context.Context, req *secretmanagerpb.AccessSecretVersionRequest) (*secretmanagerpb.AccessSecretVersionResponse, error) {
	s.mu.Lock()
	sec, v, err := s.lookupVersion(req.GetName(), true)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if v.state != secretmanagerpb.SecretVersion_ENABLED {
		s.mu.Unlock()
		return nil, statusf(codes.FailedPrecondition, "Secret Version [%s] is in %s state.", sec.versionName(v), v.state)
	}
	crc := int64(crc32.Checksum(v.payload, castagnoli))
	resp := &secretmanagerpb.AccessSecretVersionResponse{
		Name:    sec.versionName(v),
		Payload: &secretmanagerpb.SecretPayload{Data: slices.Clone(v.payload), DataCrc32C: &crc},
	}
	tamper := s.tamper
	s.mu.Unlock()
	// Outside the lock: the hook may call back into the server.
	if tamper != nil {
		tamper(resp)
	}
	return resp, nil
}

func (s *service) DisableSecretVersion(ctx context.Context, req *secretmanagerpb.DisableSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	return s.transition(req.GetName(), req.GetEtag(), secretmanagerpb.SecretVersion_DISABLED)
}

func (s *service) EnableSecretVersion(ctx context.Context, req *secretmanagerpb.EnableSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	return s.transition(req.GetName(), req.GetEtag(), secretmanagerpb.SecretVersion_ENABLED)
}

func (s *service) DestroySecretVersion(ctx context.Context, req *secretmanagerpb.DestroySecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	return s.transition(req.GetName(), req.GetEtag(), secretmanagerpb.SecretVersion_DESTROYED)
}

// transition moves a version to state. A destroyed version is final:
// nothing, destroying included, may change it again.
func (s *service) transition(name, etag string, state secretmanagerpb.SecretVersion_State) (*secretmanagerpb.SecretVersion, error) {
	if etag != "" {
		return nil, statusf(codes.Unimplemented, "smfake: etags are not supported")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, v, err := s.lookupVersion(name, false)
	if err != nil {
		return nil, err
	}
	if v.state == secretmanagerpb.SecretVersion_DESTROYED {
		return nil, statusf(codes.FailedPrecondition, "Secret Version [%s] is in DESTROYED state.", sec.versionName(v))
	}
	s.setState(v, state)
	return sec.versionPB(v), nil
}
