package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/dialtone/dialtone"
)

// CreateConversation stores c with its members; a direct conversation that
// exists already is returned instead.
func (s *Store) CreateConversation(ctx context.Context, c *dialtone.Conversation) error {
	if c.CreatedAt.IsZero() {
		c.CreatedAt = s.now()
	}
	var key any
	if k, ok := c.DirectKey(); ok {
		key = k
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("create conversation: %w", err)
	}
	defer tx.Rollback()
	err = tx.QueryRow(ctx, `INSERT INTO conversations (kind, title, owner_id, direct_key, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (direct_key) DO NOTHING RETURNING id`, c.Kind, c.Title, c.OwnerID, key, s.d.T(c.CreatedAt)).Scan(&c.ID)
	if errors.Is(err, errNoRows) { // the direct conversation exists
		var id int64
		if err := tx.QueryRow(ctx, `SELECT id FROM conversations WHERE direct_key = ?`, key).Scan(&id); err != nil {
			return fmt.Errorf("create conversation: %w", err)
		}
		found, err := s.conversation(ctx, tx.q, id)
		if err != nil {
			return err
		}
		*c = *found
		return nil
	}
	if err != nil {
		return fmt.Errorf("create conversation: %w", err)
	}
	for _, m := range c.Members {
		if _, err := tx.Exec(ctx, `INSERT INTO conversation_members (conversation_id, account_id) VALUES (?, ?)`, c.ID, m); err != nil {
			return fmt.Errorf("create conversation: member %d: %w", m, err)
		}
	}
	return tx.Commit()
}

func (s *Store) conversation(ctx context.Context, q q, id int64) (*dialtone.Conversation, error) {
	c := dialtone.Conversation{ID: id}
	err := q.QueryRow(ctx, `SELECT kind, title, owner_id, created_at FROM conversations WHERE id = ?`, id).Scan(&c.Kind, &c.Title, &c.OwnerID, st(&c.CreatedAt))
	if err != nil {
		return nil, fmt.Errorf("conversation %d: %w", id, notFound(err))
	}
	c.Members, err = collect[int64](q.Query(ctx, `SELECT account_id FROM conversation_members WHERE conversation_id = ? ORDER BY account_id`, id))
	if err != nil {
		return nil, fmt.Errorf("conversation %d: %w", id, err)
	}
	return &c, nil
}

// Conversation returns one conversation with its members.
func (s *Store) Conversation(ctx context.Context, id int64) (*dialtone.Conversation, error) {
	return s.conversation(ctx, s.r(), id)
}

// Conversations lists an account's conversations, newest first.
func (s *Store) Conversations(ctx context.Context, accountID int64, before int64, limit int) ([]dialtone.Conversation, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	ids, err := collect[int64](s.r().Query(ctx, `SELECT conversation_id FROM conversation_members WHERE account_id = ? AND conversation_id < ?
		ORDER BY conversation_id DESC LIMIT ?`, accountID, before, limit))
	if err != nil {
		return nil, fmt.Errorf("conversations of %d: %w", accountID, err)
	}
	out := make([]dialtone.Conversation, 0, len(ids))
	for _, id := range ids {
		c, err := s.conversation(ctx, s.r(), id)
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, nil
}

// PostMessage stores a message. Where the engine lets writes commit out
// of the order of the IDs they took, the insert holds the dialect's
// SerialInsert lock until it commits, so that MessagesAfter never shows a
// message before one with a lower ID that is still to come.
func (s *Store) PostMessage(ctx context.Context, m *dialtone.Message) error {
	if m.CreatedAt.IsZero() {
		m.CreatedAt = s.now()
	}
	const insert = `INSERT INTO messages (conversation_id, sender_id, kind, body, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id`
	args := []any{m.ConversationID, m.SenderID, m.Kind, m.Body, s.d.T(m.CreatedAt)}
	if s.d.SerialInsert == "" {
		if err := s.w().QueryRow(ctx, insert, args...).Scan(&m.ID); err != nil {
			return fmt.Errorf("post message: %w", err)
		}
		return nil
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("post message: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(ctx, s.d.SerialInsert); err != nil {
		return fmt.Errorf("post message: %w", err)
	}
	if err := tx.QueryRow(ctx, insert, args...).Scan(&m.ID); err != nil {
		return fmt.Errorf("post message: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("post message: %w", err)
	}
	return nil
}

// Messages lists a conversation's messages, newest first.
func (s *Store) Messages(ctx context.Context, conversationID int64, before int64, limit int) ([]dialtone.Message, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.r().Query(ctx, `SELECT id, sender_id, kind, body, created_at FROM messages WHERE conversation_id = ? AND id < ?
		ORDER BY id DESC LIMIT ?`, conversationID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("messages of %d: %w", conversationID, err)
	}
	defer rows.Close()
	var out []dialtone.Message
	for rows.Next() {
		m := dialtone.Message{ConversationID: conversationID}
		if err := rows.Scan(&m.ID, &m.SenderID, &m.Kind, &m.Body, st(&m.CreatedAt)); err != nil {
			return nil, fmt.Errorf("messages of %d: %w", conversationID, err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// MessagesAfter lists the messages of an account's conversations after an
// ID, oldest first.
func (s *Store) MessagesAfter(ctx context.Context, accountID, after int64, limit int) ([]dialtone.Message, error) {
	rows, err := s.r().Query(ctx, `SELECT m.id, m.conversation_id, m.sender_id, m.kind, m.body, m.created_at
		FROM messages m JOIN conversation_members c ON c.conversation_id = m.conversation_id
		WHERE c.account_id = ? AND m.id > ? ORDER BY m.id LIMIT ?`, accountID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("messages of %d after %d: %w", accountID, after, err)
	}
	defer rows.Close()
	var out []dialtone.Message
	for rows.Next() {
		var m dialtone.Message
		if err := rows.Scan(&m.ID, &m.ConversationID, &m.SenderID, &m.Kind, &m.Body, st(&m.CreatedAt)); err != nil {
			return nil, fmt.Errorf("messages of %d after %d: %w", accountID, after, err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// MarkRead moves an account's read marker forward.
func (s *Store) MarkRead(ctx context.Context, conversationID, accountID, messageID int64) error {
	_, err := s.w().Exec(ctx, `UPDATE conversation_members SET read_upto = CASE WHEN read_upto > ? THEN read_upto ELSE ? END
		WHERE conversation_id = ? AND account_id = ?`, messageID, messageID, conversationID, accountID)
	if err != nil {
		return fmt.Errorf("mark read: %w", err)
	}
	return nil
}

// ReadMarkers gives each member's last read message.
func (s *Store) ReadMarkers(ctx context.Context, conversationID int64) (map[int64]int64, error) {
	rows, err := s.r().Query(ctx, `SELECT account_id, read_upto FROM conversation_members WHERE conversation_id = ?`, conversationID)
	if err != nil {
		return nil, fmt.Errorf("read markers: %w", err)
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var a, r int64
		if err := rows.Scan(&a, &r); err != nil {
			return nil, fmt.Errorf("read markers: %w", err)
		}
		out[a] = r
	}
	return out, rows.Err()
}

// CreateAttachment records an uploaded file.
func (s *Store) CreateAttachment(ctx context.Context, a *dialtone.Attachment) error {
	if _, err := s.w().Exec(ctx, `INSERT INTO attachments (id, owner_id, type, size, created_at) VALUES (?, ?, ?, ?, ?)`,
		a.ID, a.OwnerID, a.Type, a.Size, s.d.T(a.CreatedAt)); err != nil {
		return fmt.Errorf("create attachment: %w", err)
	}
	return nil
}

// Attachment returns one attachment's record.
func (s *Store) Attachment(ctx context.Context, id string) (*dialtone.Attachment, error) {
	a := dialtone.Attachment{ID: id}
	err := s.r().QueryRow(ctx, `SELECT owner_id, type, size, created_at FROM attachments WHERE id = ?`, id).Scan(&a.OwnerID, &a.Type, &a.Size, st(&a.CreatedAt))
	if err != nil {
		return nil, fmt.Errorf("attachment %s: %w", id, notFound(err))
	}
	return &a, nil
}
