package dialtone

import (
	"context"
	"net/netip"
	"time"
)

// What several switch nodes on one store share: the slots of the calls
// admitted under a shared limit, the changes to the guard's bans, and the
// devices registered on each node.

// SlotStore counts, across nodes, the calls admitted under a limit that
// holds for all of them: an account's concurrent calls and calls per
// minute, a carrier's channels. A scope names what is limited (for example
// "account:42" or "carrier:carrier1").
//
// A slot holds until it is released: by its call's end, by the node
// starting again, or by the node that takes over the calls of a node whose
// lease lapsed (LeaseStore.ClaimSessions). As a backstop it also expires:
// the node that took it renews the expiry of its open slots while it
// lives, so that slots no takeover closed are freed after a TTL.
type SlotStore interface {
	// TakeSlot counts the scope's open slots (not released, not expired at
	// now) and the slots started after now minus a minute, and calls admit
	// with them while no other take of the scope can run; when admit
	// returns nil, a slot id of node is opened, started at now and expiring
	// at expires. admit's error is returned as is.
	TakeSlot(ctx context.Context, scope, id, node string, now, expires time.Time, admit func(open, recent int) error) error
	// ReleaseSlot closes slot id at now; closing a closed or unknown slot is no error.
	ReleaseSlot(ctx context.Context, id string, now time.Time) error
	// RenewSlots moves the expiry of node's open slots to expires and
	// returns how many it renewed.
	RenewSlots(ctx context.Context, node string, expires time.Time) (int64, error)
	// ReleaseNodeSlots closes every open slot of node at now (a node
	// starting again has no call in progress) and returns how many.
	ReleaseNodeSlots(ctx context.Context, node string, now time.Time) (int64, error)
	// PurgeSlots forgets the slots closed or expired before before.
	PurgeSlots(ctx context.Context, before time.Time) (int64, error)
}

// BanChange is the last change of one address's ban: the ban made, or
// lifted (an unban) at At.
type BanChange struct {
	Ban
	Lifted bool
	At     time.Time // when the change was written, on the store's clock
}

// BanFeed lets each node see the bans and unbans the others made.
type BanFeed interface {
	// LiftBan records that the ban of addr was lifted at at: the ban ends
	// then and its repeat count is forgotten. Lifting no ban is no error.
	LiftBan(ctx context.Context, addr netip.Addr, at time.Time) error
	// BanChanges returns the last change of each address changed at or
	// after since, oldest first.
	BanChanges(ctx context.Context, since time.Time) ([]BanChange, error)
}

// Registration is one device's binding as the nodes see it: which node
// holds the device's connection (what matters for a WebSocket client).
type Registration struct {
	Username  string    `json:"username"`
	Contact   string    `json:"contact"`
	Source    string    `json:"source"` // host:port the REGISTER came from
	Transport string    `json:"transport"`
	Node      string    `json:"node"`
	Expires   time.Time `json:"expires"` // a past expiry removes the binding
}

// RegistrationStore keeps the registrations every node holds.
type RegistrationStore interface {
	// SaveRegistrations writes bindings, replacing those of the same
	// username and contact; a binding expired at now is removed.
	SaveRegistrations(ctx context.Context, rs []Registration, now time.Time) error
	// ClearRegistrations removes every binding of username held by node.
	ClearRegistrations(ctx context.Context, username, node string) error
	// Registrations returns the bindings live at now, of username or of
	// everyone when it is empty, ordered by username and contact.
	Registrations(ctx context.Context, username string, now time.Time) ([]Registration, error)
	// PurgeRegistrations forgets the bindings that expired before before.
	PurgeRegistrations(ctx context.Context, before time.Time) (int64, error)
}
