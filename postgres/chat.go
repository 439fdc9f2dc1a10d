package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/dialtone/dialtone"
)

// directKey names the one direct conversation of two accounts.
func directKey(c *dialtone.Conversation) *string {
	if c.Kind != dialtone.Direct || len(c.Members) != 2 {
		return nil
	}
	a, b := c.Members[0], c.Members[1]
	k := fmt.Sprintf("%d:%d", min(a, b), max(a, b))
	return &k
}

// CreateConversation stores c with its members; a direct conversation that
// exists already is returned instead.
func (db *DB) CreateConversation(ctx context.Context, c *dialtone.Conversation) error {
	if c.CreatedAt.IsZero() {
		c.CreatedAt = db.now()
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("create conversation: %w", err)
	}
	defer tx.Rollback(ctx)
	key := directKey(c)
	err = tx.QueryRow(ctx, `INSERT INTO conversations (kind, title, owner_id, direct_key, created_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (direct_key) DO NOTHING RETURNING id`, c.Kind, c.Title, c.OwnerID, key, c.CreatedAt.UTC()).Scan(&c.ID)
	if errors.Is(err, pgx.ErrNoRows) { // the direct conversation exists
		var id int64
		if err := tx.QueryRow(ctx, `SELECT id FROM conversations WHERE direct_key = $1`, key).Scan(&id); err != nil {
			return fmt.Errorf("create conversation: %w", err)
		}
		found, err := db.conversation(ctx, tx, id)
		if err != nil {
			return err
		}
		*c = *found
		return nil
	}
	if err != nil {
		return fmt.Errorf("create conversation: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO conversation_members (conversation_id, account_id) SELECT $1, unnest($2::bigint[])`, c.ID, c.Members); err != nil {
		return fmt.Errorf("create conversation: members: %w", err)
	}
	return tx.Commit(ctx)
}

func (db *DB) conversation(ctx context.Context, q querier, id int64) (*dialtone.Conversation, error) {
	c := dialtone.Conversation{ID: id}
	err := q.QueryRow(ctx, `SELECT kind, title, owner_id, created_at,
		ARRAY(SELECT account_id FROM conversation_members WHERE conversation_id = $1 ORDER BY account_id)
		FROM conversations WHERE id = $1`, id).Scan(&c.Kind, &c.Title, &c.OwnerID, &c.CreatedAt, &c.Members)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("conversation %d: %w", id, dialtone.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("conversation %d: %w", id, err)
	}
	c.CreatedAt = c.CreatedAt.UTC()
	return &c, nil
}

// Conversation returns one conversation with its members.
func (db *DB) Conversation(ctx context.Context, id int64) (*dialtone.Conversation, error) {
	return db.conversation(ctx, db.pool, id)
}

// Conversations lists an account's conversations, newest first.
func (db *DB) Conversations(ctx context.Context, accountID int64, before int64, limit int) ([]dialtone.Conversation, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := db.pool.Query(ctx, `SELECT conversation_id FROM conversation_members WHERE account_id = $1 AND conversation_id < $2
		ORDER BY conversation_id DESC LIMIT $3`, accountID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("conversations of %d: %w", accountID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("conversations of %d: %w", accountID, err)
	}
	out := make([]dialtone.Conversation, 0, len(ids))
	for _, id := range ids {
		c, err := db.conversation(ctx, db.pool, id)
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
	err := db.pool.QueryRow(ctx, `INSERT INTO messages (conversation_id, sender_id, kind, body, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		m.ConversationID, m.SenderID, m.Kind, m.Body, m.CreatedAt.UTC()).Scan(&m.ID)
	if err != nil {
		return fmt.Errorf("post message: %w", err)
	}
	return nil
}

// Messages lists a conversation's messages, newest first.
func (db *DB) Messages(ctx context.Context, conversationID int64, before int64, limit int) ([]dialtone.Message, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := db.pool.Query(ctx, `SELECT id, sender_id, kind, body, created_at FROM messages WHERE conversation_id = $1 AND id < $2
		ORDER BY id DESC LIMIT $3`, conversationID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("messages of %d: %w", conversationID, err)
	}
	defer rows.Close()
	var out []dialtone.Message
	for rows.Next() {
		m := dialtone.Message{ConversationID: conversationID}
		if err := rows.Scan(&m.ID, &m.SenderID, &m.Kind, &m.Body, &m.CreatedAt); err != nil {
			return nil, fmt.Errorf("messages of %d: %w", conversationID, err)
		}
		m.CreatedAt = m.CreatedAt.UTC()
		out = append(out, m)
	}
	return out, rows.Err()
}

// MarkRead moves an account's read marker forward.
func (db *DB) MarkRead(ctx context.Context, conversationID, accountID, messageID int64) error {
	_, err := db.pool.Exec(ctx, `UPDATE conversation_members SET read_upto = greatest(read_upto, $1) WHERE conversation_id = $2 AND account_id = $3`,
		messageID, conversationID, accountID)
	if err != nil {
		return fmt.Errorf("mark read: %w", err)
	}
	return nil
}

// ReadMarkers gives each member's last read message.
func (db *DB) ReadMarkers(ctx context.Context, conversationID int64) (map[int64]int64, error) {
	rows, err := db.pool.Query(ctx, `SELECT account_id, read_upto FROM conversation_members WHERE conversation_id = $1`, conversationID)
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
	if _, err := db.pool.Exec(ctx, `INSERT INTO attachments (id, owner_id, type, size, created_at) VALUES ($1, $2, $3, $4, $5)`,
		a.ID, a.OwnerID, a.Type, a.Size, a.CreatedAt.UTC()); err != nil {
		return fmt.Errorf("create attachment: %w", err)
	}
	return nil
}

// Attachment returns one attachment's record.
func (db *DB) Attachment(ctx context.Context, id string) (*dialtone.Attachment, error) {
	a := dialtone.Attachment{ID: id}
	err := db.pool.QueryRow(ctx, `SELECT owner_id, type, size, created_at FROM attachments WHERE id = $1`, id).Scan(&a.OwnerID, &a.Type, &a.Size, &a.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("attachment %s: %w", id, dialtone.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("attachment %s: %w", id, err)
	}
	a.CreatedAt = a.CreatedAt.UTC()
	return &a, nil
}
