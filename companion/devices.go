package companion

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dialtone/dialtone"
)

// deviceJSON is a device as the API shows it; its password only once, in
// the answer to its creation.
type deviceJSON struct {
	ID           int64  `json:"id"`
	Name         string `json:"name"`
	Username     string `json:"username"`
	Realm        string `json:"realm"`
	CreatedAt    string `json:"created_at"`
	LastSeenAt   string `json:"last_seen_at,omitempty"`
	LastSeenAddr string `json:"last_seen_addr,omitempty"`
	RevokedAt    string `json:"revoked_at,omitempty"`
	Password     string `json:"password,omitempty"`
}

func deviceView(d *dialtone.Device) deviceJSON {
	v := deviceJSON{ID: d.ID, Name: d.Name, Username: d.Username, Realm: d.Realm, CreatedAt: d.CreatedAt.UTC().Format(time.RFC3339), LastSeenAddr: d.LastSeenAddr}
	if !d.LastSeenAt.IsZero() {
		v.LastSeenAt = d.LastSeenAt.UTC().Format(time.RFC3339)
	}
	if d.Revoked() {
		v.RevokedAt = d.RevokedAt.UTC().Format(time.RFC3339)
	}
	return v
}

func (s *Server) devicesReady(w http.ResponseWriter) bool {
	if s.cfg.SIP.Devices == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "this switch manages no devices")
		return false
	}
	return true
}

// devices: GET /api/v1/devices lists the caller's devices, revoked ones too.
func (s *Server) devices(w http.ResponseWriter, r *http.Request, c *caller) {
	ds, err := s.store.Devices(r.Context(), c.account.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	out := make([]deviceJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, deviceView(d))
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": out})
}

// createDevice: POST /api/v1/devices {"name"} makes SIP credentials for a
// softphone, desk phone or PBX; the password is in this answer only.
func (s *Server) createDevice(w http.ResponseWriter, r *http.Request, c *caller) {
	if !s.devicesReady(w) {
		return
	}
	var in struct {
		Name string `json:"name"`
	}
	if !decode(w, r, &in) {
		return
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" {
		writeError(w, http.StatusBadRequest, "invalid", "name the device, e.g. \"desk phone\"")
		return
	}
	d, pw, err := s.cfg.SIP.Devices.CreateDevice(r.Context(), c.account, in.Name)
	if err != nil {
		s.fail(w, err)
		return
	}
	v := deviceView(d)
	v.Password = pw
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, v)
}

// revokeDevice: DELETE /api/v1/devices/{id} revokes one of the caller's
// devices: the switch refuses it from its next request on.
func (s *Server) revokeDevice(w http.ResponseWriter, r *http.Request, c *caller) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusNotFound, "not_found", "no such device")
		return
	}
	d, err := s.store.RevokeDevice(r.Context(), c.account.ID, id, s.now())
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, deviceView(d))
}
