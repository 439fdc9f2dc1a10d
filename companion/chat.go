package companion

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/dialtone/dialtone"
)

type conversationJSON struct {
	ID      int64    `json:"id"`
	Kind    string   `json:"kind"`
	Title   string   `json:"title"`
	Owner   string   `json:"owner"`
	Members []string `json:"members"`
}

type messageJSON struct {
	ID             int64           `json:"id"`
	ConversationID int64           `json:"conversation_id"`
	Sender         string          `json:"sender"`
	Kind           string          `json:"kind"`
	Body           json.RawMessage `json:"body"`
	At             string          `json:"at"`
}

// names turns account ids into usernames for answers.
func (s *Server) names(r *http.Request, ids ...int64) (map[int64]string, error) {
	out := map[int64]string{}
	for _, id := range ids {
		if _, ok := out[id]; ok {
			continue
		}
		a, err := s.store.AccountByID(r.Context(), id)
		if err != nil {
			return nil, err
		}
		out[id] = a.Username
	}
	return out, nil
}

func (s *Server) conversationView(r *http.Request, c *dialtone.Conversation) (conversationJSON, error) {
	n, err := s.names(r, append([]int64{c.OwnerID}, c.Members...)...)
	if err != nil {
		return conversationJSON{}, err
	}
	v := conversationJSON{ID: c.ID, Kind: c.Kind, Title: c.Title, Owner: n[c.OwnerID], Members: []string{}}
	for _, m := range c.Members {
		v.Members = append(v.Members, n[m])
	}
	return v, nil
}

// createConversation: POST /api/v1/conversations {"kind": "direct|group|broadcast", "members": ["bob"], "title": ""}
func (s *Server) createConversation(w http.ResponseWriter, r *http.Request, c *caller) {
	var in struct {
		Kind    string   `json:"kind"`
		Members []string `json:"members"`
		Title   string   `json:"title"`
	}
	if !decode(w, r, &in) {
		return
	}
	if len(in.Title) > 100 {
		writeError(w, http.StatusBadRequest, "invalid", "title is longer than 100 characters")
		return
	}
	conv := &dialtone.Conversation{Kind: in.Kind, Title: in.Title, OwnerID: c.account.ID, Members: []int64{c.account.ID}}
	for _, name := range in.Members {
		a, err := s.store.AccountByUsername(r.Context(), name)
		if errors.Is(err, dialtone.ErrNotFound) {
			writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no user %q", name))
			return
		}
		if err != nil {
			s.fail(w, err)
			return
		}
		if !slices.Contains(conv.Members, a.ID) {
			conv.Members = append(conv.Members, a.ID)
		}
	}
	switch {
	case in.Kind == dialtone.Direct && len(conv.Members) != 2:
		writeError(w, http.StatusBadRequest, "invalid", "a direct conversation has one other member")
		return
	case (in.Kind == dialtone.Group || in.Kind == dialtone.Broadcast) && (len(conv.Members) < 2 || len(conv.Members) > 500):
		writeError(w, http.StatusBadRequest, "invalid", "a group or broadcast list has 1 to 499 other members")
		return
	case in.Kind != dialtone.Direct && in.Kind != dialtone.Group && in.Kind != dialtone.Broadcast:
		writeError(w, http.StatusBadRequest, "invalid", "kind must be direct, group or broadcast")
		return
	}
	if err := s.store.CreateConversation(r.Context(), conv); err != nil {
		s.fail(w, err)
		return
	}
	v, err := s.conversationView(r, conv)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, v)
}

// conversations: GET /api/v1/conversations?limit=&cursor=
func (s *Server) conversations(w http.ResponseWriter, r *http.Request, c *caller) {
	limit, before, ok := page(w, r)
	if !ok {
		return
	}
	cs, err := s.store.Conversations(r.Context(), c.account.ID, before, limit+1)
	if err != nil {
		s.fail(w, err)
		return
	}
	out := struct {
		Items      []conversationJSON `json:"items"`
		NextCursor string             `json:"next_cursor,omitempty"`
	}{Items: []conversationJSON{}}
	for i := range cs {
		if i == limit {
			out.NextCursor = strconv.FormatInt(cs[limit-1].ID, 10)
			break
		}
		v, err := s.conversationView(r, &cs[i])
		if err != nil {
			s.fail(w, err)
			return
		}
		out.Items = append(out.Items, v)
	}
	writeJSON(w, http.StatusOK, out)
}

// member loads a conversation the caller belongs to; others get 404.
func (s *Server) member(w http.ResponseWriter, r *http.Request, c *caller) (*dialtone.Conversation, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	var conv *dialtone.Conversation
	if err == nil {
		conv, err = s.store.Conversation(r.Context(), id)
	}
	if err == nil && !slices.Contains(conv.Members, c.account.ID) {
		err = dialtone.ErrNotFound
	}
	if err != nil {
		if errors.Is(err, dialtone.ErrNotFound) || errors.Is(err, strconv.ErrSyntax) || errors.Is(err, strconv.ErrRange) {
			writeError(w, http.StatusNotFound, "not_found", "no such conversation for you")
		} else {
			s.fail(w, err)
		}
		return nil, false
	}
	return conv, true
}

// conversation: GET /api/v1/conversations/{id}, with read markers.
func (s *Server) conversation(w http.ResponseWriter, r *http.Request, c *caller) {
	conv, ok := s.member(w, r, c)
	if !ok {
		return
	}
	v, err := s.conversationView(r, conv)
	if err != nil {
		s.fail(w, err)
		return
	}
	marks, err := s.store.ReadMarkers(r.Context(), conv.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	names, err := s.names(r, conv.Members...)
	if err != nil {
		s.fail(w, err)
		return
	}
	read := map[string]int64{}
	for id, m := range marks {
		read[names[id]] = m
	}
	writeJSON(w, http.StatusOK, map[string]any{"conversation": v, "read": read})
}

// messages: GET /api/v1/conversations/{id}/messages?limit=&cursor=
func (s *Server) messages(w http.ResponseWriter, r *http.Request, c *caller) {
	conv, ok := s.member(w, r, c)
	if !ok {
		return
	}
	limit, before, ok := page(w, r)
	if !ok {
		return
	}
	ms, err := s.store.Messages(r.Context(), conv.ID, before, limit+1)
	if err != nil {
		s.fail(w, err)
		return
	}
	out := struct {
		Items      []messageJSON `json:"items"`
		NextCursor string        `json:"next_cursor,omitempty"`
	}{Items: []messageJSON{}}
	for i := range ms {
		if i == limit {
			out.NextCursor = strconv.FormatInt(ms[limit-1].ID, 10)
			break
		}
		v, err := s.messageView(r, &ms[i])
		if err != nil {
			s.fail(w, err)
			return
		}
		out.Items = append(out.Items, v)
	}
	writeJSON(w, http.StatusOK, out)
}

// messagesAfter: GET /api/v1/messages?after=&limit=, the messages of all
// the caller's conversations with IDs above after, oldest first: what a
// client that saw up to message after has missed (after its live
// WebSocket was closed, say). more says that another page follows, after
// the last item.
func (s *Server) messagesAfter(w http.ResponseWriter, r *http.Request, c *caller) {
	limit, ok := pageLimit(w, r)
	if !ok {
		return
	}
	var after int64
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "invalid_query", "after must be a message id (0: from the first)")
			return
		}
		after = n
	}
	ms, err := s.store.MessagesAfter(r.Context(), c.account.ID, after, limit+1)
	if err != nil {
		s.fail(w, err)
		return
	}
	out := struct {
		Items []messageJSON `json:"items"`
		More  bool          `json:"more"`
	}{Items: []messageJSON{}, More: len(ms) > limit}
	for i := range ms[:min(len(ms), limit)] {
		v, err := s.messageView(r, &ms[i])
		if err != nil {
			s.fail(w, err)
			return
		}
		out.Items = append(out.Items, v)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) messageView(r *http.Request, m *dialtone.Message) (messageJSON, error) {
	n, err := s.names(r, m.SenderID)
	if err != nil {
		return messageJSON{}, err
	}
	return messageJSON{ID: m.ID, ConversationID: m.ConversationID, Sender: n[m.SenderID], Kind: m.Kind,
		Body: json.RawMessage(m.Body), At: m.CreatedAt.UTC().Format(time.RFC3339Nano)}, nil
}

// postMessage: POST /api/v1/conversations/{id}/messages {"kind": "text", "body": {"text": "hi"}}
func (s *Server) postMessage(w http.ResponseWriter, r *http.Request, c *caller) {
	conv, ok := s.member(w, r, c)
	if !ok {
		return
	}
	var in struct {
		Kind string          `json:"kind"`
		Body json.RawMessage `json:"body"`
	}
	if !decode(w, r, &in) {
		return
	}
	body, err := s.checkBody(r, c, in.Kind, in.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	if conv.Kind == dialtone.Broadcast && conv.OwnerID != c.account.ID {
		writeError(w, http.StatusForbidden, "forbidden", "only the owner of a broadcast list posts to it")
		return
	}
	m := &dialtone.Message{ConversationID: conv.ID, SenderID: c.account.ID, Kind: in.Kind, Body: body}
	if err := s.store.PostMessage(r.Context(), m); err != nil {
		s.fail(w, err)
		return
	}
	v, err := s.messageView(r, m)
	if err != nil {
		s.fail(w, err)
		return
	}
	s.hub.publish(conv.Members, v)
	if conv.Kind == dialtone.Broadcast {
		// Each recipient gets it in their own direct conversation with the sender.
		for _, to := range conv.Members {
			if to == c.account.ID {
				continue
			}
			d := &dialtone.Conversation{Kind: dialtone.Direct, OwnerID: c.account.ID, Members: []int64{c.account.ID, to}}
			if err := s.store.CreateConversation(r.Context(), d); err != nil {
				s.fail(w, err)
				return
			}
			dup := &dialtone.Message{ConversationID: d.ID, SenderID: c.account.ID, Kind: in.Kind, Body: body}
			if err := s.store.PostMessage(r.Context(), dup); err != nil {
				s.fail(w, err)
				return
			}
			cv, _ := s.messageView(r, dup)
			s.hub.publish(d.Members, cv)
		}
	}
	writeJSON(w, http.StatusCreated, v)
}

// markRead: POST /api/v1/conversations/{id}/read {"message_id": 42}
func (s *Server) markRead(w http.ResponseWriter, r *http.Request, c *caller) {
	conv, ok := s.member(w, r, c)
	if !ok {
		return
	}
	var in struct {
		MessageID int64 `json:"message_id"`
	}
	if !decode(w, r, &in) {
		return
	}
	if in.MessageID <= 0 {
		writeError(w, http.StatusBadRequest, "invalid", "message_id must be a message of the conversation")
		return
	}
	if err := s.store.MarkRead(r.Context(), conv.ID, c.account.ID, in.MessageID); err != nil {
		s.fail(w, err)
		return
	}
	s.hub.publish(conv.Members, map[string]any{"type": "read", "conversation_id": conv.ID, "reader": c.account.Username, "message_id": in.MessageID})
	w.WriteHeader(http.StatusNoContent)
}

// checkBody validates a message body for its kind and returns it compacted.
func (s *Server) checkBody(r *http.Request, c *caller, kind string, raw json.RawMessage) (string, error) {
	strict := func(v any) error {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			return fmt.Errorf("body of a %s message: %v", kind, err)
		}
		return nil
	}
	attachment := func(id, prefix string) error {
		a, err := s.store.Attachment(r.Context(), id)
		if err != nil || a.OwnerID != c.account.ID {
			return fmt.Errorf("attachment %q is not one you uploaded", id)
		}
		if !strings.HasPrefix(a.Type, prefix) {
			return fmt.Errorf("attachment %q is %s, not %s*", id, a.Type, prefix)
		}
		return nil
	}
	var err error
	switch kind {
	case dialtone.TextMessage:
		var b struct {
			Text string `json:"text"`
		}
		if err = strict(&b); err == nil && (b.Text == "" || len(b.Text) > 4000) {
			err = errors.New("text must be 1 to 4000 bytes")
		}
	case dialtone.ImageMessage, dialtone.VideoMessage:
		var b struct {
			Attachment string `json:"attachment"`
			Caption    string `json:"caption"`
		}
		if err = strict(&b); err == nil {
			if len(b.Caption) > 1000 {
				err = errors.New("caption is longer than 1000 bytes")
			} else {
				err = attachment(b.Attachment, kind+"/")
			}
		}
	case dialtone.VoiceMessage:
		var b struct {
			Attachment string `json:"attachment"`
			Seconds    int    `json:"seconds"`
		}
		if err = strict(&b); err == nil {
			if b.Seconds < 1 || b.Seconds > 600 {
				err = errors.New("seconds must be 1 to 600")
			} else {
				err = attachment(b.Attachment, "audio/")
			}
		}
	case dialtone.LocationMessage:
		var b struct {
			Lat   *float64 `json:"lat"`
			Lng   *float64 `json:"lng"`
			Label string   `json:"label"`
		}
		if err = strict(&b); err == nil && (b.Lat == nil || b.Lng == nil || *b.Lat < -90 || *b.Lat > 90 || *b.Lng < -180 || *b.Lng > 180 || len(b.Label) > 200) {
			err = errors.New("a location needs lat in -90..90, lng in -180..180 and a label of at most 200 bytes")
		}
	case dialtone.ContactMessage:
		var b struct {
			Name  string `json:"name"`
			Phone string `json:"phone"`
		}
		if err = strict(&b); err == nil && (b.Name == "" || len(b.Name) > 200 || b.Phone == "" || len(b.Phone) > 40) {
			err = errors.New("a contact card needs a name and a phone number")
		}
	default:
		return "", fmt.Errorf("kind %q is not one of text, image, video, voice, location, contact", kind)
	}
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// attachmentLimits are the largest uploads by type family.
var attachmentLimits = map[string]int64{"image/": 10 << 20, "video/": 50 << 20, "audio/": 5 << 20}

// upload: POST /api/v1/attachments, the file as the body with its Content-Type.
func (s *Server) upload(w http.ResponseWriter, r *http.Request, c *caller) {
	ctype := strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0]))
	var limit int64
	for prefix, l := range attachmentLimits {
		if strings.HasPrefix(ctype, prefix) && len(ctype) > len(prefix) {
			limit = l
		}
	}
	if limit == 0 || s.cfg.AttachmentDir == "" {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_type", "attachments are image/*, video/* or audio/* files")
		return
	}
	id := uuid.NewString()
	path := filepath.Join(s.cfg.AttachmentDir, id)
	if err := os.MkdirAll(s.cfg.AttachmentDir, 0o750); err != nil {
		s.fail(w, err)
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		s.fail(w, err)
		return
	}
	n, err := io.Copy(f, http.MaxBytesReader(w, r.Body, limit))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil || n == 0 {
		os.Remove(path)
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("%s files may be at most %d MiB", ctype, limit>>20))
			return
		}
		writeError(w, http.StatusBadRequest, "invalid", "the upload is empty or broken")
		return
	}
	a := &dialtone.Attachment{ID: id, OwnerID: c.account.ID, Type: ctype, Size: n, CreatedAt: s.now()}
	if err := s.store.CreateAttachment(r.Context(), a); err != nil {
		os.Remove(path)
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": id, "type": ctype, "size": n})
}

// download: GET /api/v1/attachments/{id}. An attachment id is a random
// UUID that only reaches the people of the conversation it was posted in,
// so it works as a capability: any signed-in user who has it may fetch it.
func (s *Server) download(w http.ResponseWriter, r *http.Request, c *caller) {
	id := r.PathValue("id")
	a, err := s.store.Attachment(r.Context(), id)
	if err != nil {
		if errors.Is(err, dialtone.ErrNotFound) {
			writeError(w, http.StatusNotFound, "not_found", "no such attachment")
			return
		}
		s.fail(w, err)
		return
	}
	f, err := os.Open(filepath.Join(s.cfg.AttachmentDir, a.ID))
	if err != nil {
		s.fail(w, err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", a.Type)
	w.Header().Set("Content-Length", strconv.FormatInt(a.Size, 10))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Disposition", "attachment")
	_, _ = io.Copy(w, f)
}
