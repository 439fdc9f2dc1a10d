package companion

import (
	"context"
	"sync"
)

// Bus carries live events between the API nodes that share a store, so
// that a message posted on one node reaches the WebSockets connected to
// any node. The hub publishes every event through it and delivers to its
// own WebSockets only what the bus hands back, its own events included:
// each event is delivered exactly once per connected client, in the one
// order the bus gives. LocalBus is the bus of a single node (SQLite);
// package postgres implements one over LISTEN/NOTIFY.
//
// A message is the companion's own encoding of an event (JSON); the bus
// carries it as opaque bytes.
type Bus interface {
	// Publish sends msg to the subscribers of every node, this one
	// included. It returns once the bus has accepted the message.
	Publish(ctx context.Context, msg []byte) error
	// Subscribe registers deliver, called with each message in the order
	// of publication and never concurrently with itself, and resync,
	// called when messages may have been lost (the node was cut off from
	// the bus and is back on it). Neither may block.
	Subscribe(deliver func(msg []byte), resync func())
}

// LocalBus is the in-process bus: what is published is delivered, at
// once and in the caller's goroutine, to the subscribers of this process.
// It never loses a message, so it never calls resync. It is safe for
// concurrent use; deliveries are serialized.
type LocalBus struct {
	mu   sync.Mutex // held while delivering: one delivery at a time, in Publish order
	subs []func([]byte)
}

// NewLocalBus returns an in-process bus.
func NewLocalBus() *LocalBus { return &LocalBus{} }

// Publish delivers msg to every subscriber before it returns.
func (b *LocalBus) Publish(_ context.Context, msg []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, f := range b.subs {
		f(msg)
	}
	return nil
}

// Subscribe registers deliver; resync is never called.
func (b *LocalBus) Subscribe(deliver func([]byte), _ func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subs = append(b.subs, deliver)
}
