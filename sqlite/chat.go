package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/dialtone/dialtone"
)

// directKey names the one direct conversation of two accounts.
func directKey(c *dialtone.Conversation) any {
	if c.Kind != dialtone.Direct || len(c.Members) != 2 {
		return nil
	}
	a, b := c.Members[0], c.Members[1]
	return fmt.Sprintf("%d:%d", min(a, b), max(a, b))
}

// CreateConversation stores c with its members.
func (db *DB) CreateConversation(ctx context.Context, c *dialtone.Conversation) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create conversation: %w", err)
	}
	defer tx.Rollback()
	key := directKey(c)
	if key != nil {
		var id int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM conversations WHERE direct_key = ?`, key).Scan(&id)
		if err == nil {
			found, err := db.conversation(ctx, tx, id)
			if err != nil {
				return err
			}
			*c = *found
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("create conversation: %w", err)
		}
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = db.now()
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO conversations (kind, title, owner_id, direct_key, created_at) VALUES (?, ?, ?, ?, ?)`,
		c.Kind, c.Title, c.OwnerID, key, c.CreatedAt.UnixMicro())
	if err != nil {
		return fmt.Errorf("create conversation: %w", err)
	}
	c.ID, _ = res.LastInsertId()
	for _, m := range c.Members {
		if _, err := tx.ExecContext(ctx, `INSERT INTO conversation_members (conversation_id, account_id) VALUES (?, ?)`, c.ID, m); err != nil {
			return fmt.Errorf("create conversation: member %d: %w", m, err)
		}
	}
	return tx.Commit()
}

type querierCtx interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (db *DB) conversation(ctx context.Context, q querierCtx, id int64) (*dialtone.Conversation, error) {
	c := dialtone.Conversation{ID: id}
	var created int64
	err := q.QueryRowContext(ctx, `SELECT kind, title, owner_id, created_at FROM conversations WHERE id = ?`, id).Scan(&c.Kind, &c.Title, &c.OwnerID, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("conversation %d: %w", id, dialtone.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("conversation %d: %w", id, err)
	}
	c.CreatedAt = time.UnixMicro(created).UTC()
	rows, err := q.QueryContext(ctx, `SELECT account_id FROM conversation_members WHERE conversation_id = ? ORDER BY account_id`, id)
	if err != nil {
		return nil, fmt.Errorf("conversation %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var m int64
		if err := rows.Scan(&m); err != nil {
			return nil, fmt.Errorf("conversation %d: %w", id, err)
		}
		c.Members = append(c.Members, m)
	}
	return &c, rows.Err()
}

// Conversation returns one conversation with its members.
func (db *DB) Conversation(ctx context.Context, id int64) (*dialtone.Conversation, error) {
	return db.conversation(ctx, db.read, id)
}

// Conversations lists an account's conversations, newest first.
func (db *DB) Conversations(ctx context.Context, accountID int64, before int64, limit int) ([]dialtone.Conversation, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := db.read.QueryContext(ctx, `SELECT conversation_id FROM conversation_members WHERE account_id = ? AND conversation_id < ?
		ORDER BY conversation_id DESC LIMIT ?`, accountID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("conversations of %d: %w", accountID, err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	out := make([]dialtone.Conversation, 0, len(ids))
	for _, id := range ids {
		c, err := db.conversation(ctx, db.read, id)
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, nil
}

// PostMessage stores a message.
func (db *DB) PostMessage(ctx context.Context, m *dialtone.Message) error {
	if m.CreatedAt.IsZero() {
		m.CreatedAt = db.now()
	}
	res, err := db.write.ExecContext(ctx, `INSERT INTO messages (conversation_id, sender_id, kind, body, created_at) VALUES (?, ?, ?, ?, ?)`,
		m.ConversationID, m.SenderID, m.Kind, m.Body, m.CreatedAt.UnixMicro())
	if err != nil {
		return fmt.Errorf("post message: %w", err)
	}
	m.ID, _ = res.LastInsertId()
	return nil
}

// Messages lists a conversation's messages, newest first.
func (db *DB) Messages(ctx context.Context, conversationID int64, before int64, limit int) ([]dialtone.Message, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := db.read.QueryContext(ctx, `SELECT id, sender_id, kind, body, created_at FROM messages WHERE conversation_id = ? AND id < ?
		ORDER BY id DESC LIMIT ?`, conversationID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("messages of %d: %w", conversationID, err)
	}
	defer rows.Close()
	var out []dialtone.Message
	for rows.Next() {
		m := dialtone.Message{ConversationID: conversationID}
		var created int64
		if err := rows.Scan(&m.ID, &m.SenderID, &m.Kind, &m.Body, &created); err != nil {
			return nil, fmt.Errorf("messages of %d: %w", conversationID, err)
		}
		m.CreatedAt = time.UnixMicro(created).UTC()
		out = append(out, m)
	}
	return out, rows.Err()
}

// MarkRead moves an account's read marker forward.
func (db *DB) MarkRead(ctx context.Context, conversationID, accountID, messageID int64) error {
	_, err := db.write.ExecContext(ctx, `UPDATE conversation_members SET read_upto = max(read_upto, ?) WHERE conversation_id = ? AND account_id = ?`,
		messageID, conversationID, accountID)
	if err != nil {
		return fmt.Errorf("mark read: %w", err)
	}
	return nil
}

// ReadMarkers gives each member's last read message.
func (db *DB) ReadMarkers(ctx context.Context, conversationID int64) (map[int64]int64, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT account_id, read_upto FROM conversation_members WHERE conversation_id = ?`, conversationID)
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
func (db *DB) CreateAttachment(ctx context.Context, a *dialtone.Attachment) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO attachments (id, owner_id, type, size, created_at) VALUES (?, ?, ?, ?, ?)`,
		a.ID, a.OwnerID, a.Type, a.Size, a.CreatedAt.UnixMicro())
	if err != nil {
		return fmt.Errorf("create attachment: %w", err)
	}
	return nil
}

// Attachment returns one attachment's record.
func (db *DB) Attachment(ctx context.Context, id string) (*dialtone.Attachment, error) {
	a := dialtone.Attachment{ID: id}
	var created int64
	err := db.read.QueryRowContext(ctx, `SELECT owner_id, type, size, created_at FROM attachments WHERE id = ?`, id).Scan(&a.OwnerID, &a.Type, &a.Size, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("attachment %s: %w", id, dialtone.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("attachment %s: %w", id, err)
	}
	a.CreatedAt = time.UnixMicro(created).UTC()
	return &a, nil
}
