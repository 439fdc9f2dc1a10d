package dialtone

import (
	"context"
	"fmt"
	"time"
)

// Conversation kinds.
const (
	Direct    = "direct"    // two people
	Group     = "group"     // many people, all see everything
	Broadcast = "broadcast" // one sender, each recipient gets the message in their direct conversation
)

// Conversation is a chat between accounts.
type Conversation struct {
	ID        int64
	Kind      string
	Title     string
	OwnerID   int64
	Members   []int64 // the owner included
	CreatedAt time.Time
}

// Message kinds and what their Body (JSON) holds.
const (
	TextMessage     = "text"     // {"text"}
	ImageMessage    = "image"    // {"attachment", "caption"}
	VideoMessage    = "video"    // {"attachment", "caption"}
	VoiceMessage    = "voice"    // {"attachment", "seconds"}
	LocationMessage = "location" // {"lat", "lng", "label"}
	ContactMessage  = "contact"  // {"name", "phone"}
)

// Message is one message of a conversation.
type Message struct {
	ID             int64
	ConversationID int64
	SenderID       int64
	Kind           string
	Body           string // JSON, checked by the API for its kind
	CreatedAt      time.Time
}

// Attachment is a file a user uploaded for a message.
type Attachment struct {
	ID        string
	OwnerID   int64
	Type      string // MIME type
	Size      int64
	CreatedAt time.Time
}

// ChatStore keeps conversations and messages. Membership checks (who may
// read, post or mark) are the caller's.
type ChatStore interface {
	// CreateConversation stores c with its members (the owner must be among
	// them) and sets its ID (and CreatedAt when zero). A direct conversation
	// between two accounts exists once: creating it again, with the members
	// in any order and even at the same time, sets c to the first one and
	// stores nothing. It fails, storing nothing, for a kind that is not
	// Direct, Group or Broadcast, or a member that is not an account.
	CreateConversation(ctx context.Context, c *Conversation) error
	// Conversation returns a conversation with its members ordered by
	// account ID. It fails with ErrNotFound for an unknown id.
	Conversation(ctx context.Context, id int64) (*Conversation, error)
	// Conversations lists an account's conversations, members included,
	// newest first by ID (new messages do not reorder them), with IDs below
	// before (0: from the newest), at most limit.
	Conversations(ctx context.Context, accountID int64, before int64, limit int) ([]Conversation, error)
	// PostMessage stores m and sets its ID (growing) and, when zero, its
	// time. It fails for an unknown conversation.
	PostMessage(ctx context.Context, m *Message) error
	// Messages lists a conversation's messages, newest first by ID (not
	// CreatedAt), with IDs below before (0: from the newest), at most limit.
	Messages(ctx context.Context, conversationID int64, before int64, limit int) ([]Message, error)
	// MessagesAfter lists the messages of every conversation accountID is a
	// member of with IDs above after, oldest first by ID, at most limit:
	// what a client that saw up to message after has missed. Messages
	// become visible in the order of their IDs, whichever node stored them,
	// so listing after the last ID seen misses none.
	MessagesAfter(ctx context.Context, accountID, after int64, limit int) ([]Message, error)
	// MarkRead records that accountID has read up to messageID. It only
	// moves forward, also when marks race; for an account that is not a
	// member, or an unknown conversation, it does nothing and returns nil.
	MarkRead(ctx context.Context, conversationID, accountID, messageID int64) error
	// ReadMarkers gives each member's last read message: every member has an
	// entry, 0 until they mark one; empty for an unknown conversation.
	ReadMarkers(ctx context.Context, conversationID int64) (map[int64]int64, error)
	// CreateAttachment records a; its ID must be new (a second record with
	// it fails, though not with ErrConflict) and its owner an account.
	CreateAttachment(ctx context.Context, a *Attachment) error
	// Attachment fails with ErrNotFound for an unknown id (IDs are exact).
	Attachment(ctx context.Context, id string) (*Attachment, error)
}

// DirectKey names the one direct conversation of two accounts ("low:high");
// ok is false for any other conversation.
func (c *Conversation) DirectKey() (key string, ok bool) {
	if c.Kind != Direct || len(c.Members) != 2 {
		return "", false
	}
	a, b := c.Members[0], c.Members[1]
	return fmt.Sprintf("%d:%d", min(a, b), max(a, b)), true
}
