package companion

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// hub delivers events to the WebSockets of the accounts they concern. It
// publishes each event on the bus and delivers, to this node's WebSockets,
// only what the bus hands back (its own events included), so a client gets
// each event once whichever node it is connected to.
type hub struct {
	bus Bus
	log *slog.Logger

	mu    sync.Mutex
	conns map[int64]map[*liveConn]struct{}
}

type liveConn struct {
	out chan []byte // events to write; full means a slow reader, which is dropped
	// why is the close reason, set before out is closed.
	why  string
	code websocket.StatusCode
}

// liveEvent is an event as it travels on the bus: the accounts it concerns
// and the JSON their WebSockets receive.
type liveEvent struct {
	Accounts []int64         `json:"accounts"`
	Event    json.RawMessage `json:"event"`
}

// publishTimeout bounds a Publish on the bus. It runs after the change
// it announces has been committed, so the request's own context (which
// ends when its client goes away) is not used.
const publishTimeout = 5 * time.Second

// attach subscribes h to its bus.
func (h *hub) attach(bus Bus, log *slog.Logger) {
	h.bus, h.log = bus, log
	bus.Subscribe(h.deliver, h.resync)
}

func (h *hub) add(account int64, c *liveConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.conns == nil {
		h.conns = map[int64]map[*liveConn]struct{}{}
	}
	if h.conns[account] == nil {
		h.conns[account] = map[*liveConn]struct{}{}
	}
	h.conns[account][c] = struct{}{}
}

func (h *hub) remove(account int64, c *liveConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.conns[account], c)
	if len(h.conns[account]) == 0 {
		delete(h.conns, account)
	}
}

// publish sends v, for the accounts, on the bus. A failure is logged: the
// change it announces is committed and in the history either way.
func (h *hub) publish(accounts []int64, v any) {
	if m, ok := v.(messageJSON); ok {
		v = map[string]any{"type": "message", "message": m}
	}
	ev, err := json.Marshal(v)
	if err != nil {
		return
	}
	msg, err := json.Marshal(liveEvent{Accounts: accounts, Event: ev})
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	if err := h.bus.Publish(ctx, msg); err != nil {
		h.log.Error("publish live event", "error", err)
	}
}

// deliver sends an event from the bus to every connection of its
// accounts; it never blocks. What does not decode is dropped.
func (h *hub) deliver(msg []byte) {
	var ev liveEvent
	if err := json.Unmarshal(msg, &ev); err != nil || len(ev.Event) == 0 {
		h.log.Warn("live event from the bus dropped: not an event", "error", err, "bytes", len(msg))
		return
	}
	b := []byte(ev.Event)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, a := range ev.Accounts {
		for c := range h.conns[a] {
			select {
			case c.out <- b:
			default: // too slow: its writer closes it
				h.drop(a, c, websocket.StatusPolicyViolation, "too slow")
			}
		}
	}
}

// resync closes every WebSocket of this node: events may have been lost
// while the node was cut off from the bus, and a client that reconnects
// fetches the history it missed. Called by the bus once it is back.
func (h *hub) resync() {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for a, cs := range h.conns {
		for c := range cs {
			h.drop(a, c, websocket.StatusServiceRestart, resyncReason)
			n++
		}
	}
	if n > 0 {
		h.log.Warn("live events may have been missed: closed the live WebSockets so that their clients resync", "websockets", n)
	}
}

// resyncReason is the close reason of a WebSocket closed by resync.
const resyncReason = "live events may have been missed: reconnect, then GET /api/v1/messages?after=<the last message id seen>"

// drop closes c's queue with a reason; h.mu is held.
func (h *hub) drop(account int64, c *liveConn, code websocket.StatusCode, why string) {
	c.code, c.why = code, why
	close(c.out)
	delete(h.conns[account], c)
	if len(h.conns[account]) == 0 {
		delete(h.conns, account)
	}
}

// live: GET /api/v1/live, a WebSocket of events for the caller: new
// messages of their conversations and read markers. Browsers cannot set
// headers on a WebSocket, so the token may come as ?access_token=. The
// server closes it with 1012 (service restart) when events may have been
// missed (see hub.resync): the client fetches the history and reconnects.
func (s *Server) live(w http.ResponseWriter, r *http.Request, c *caller) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered
	}
	lc := &liveConn{out: make(chan []byte, 64)}
	s.hub.add(c.account.ID, lc)
	defer s.hub.remove(c.account.ID, lc)
	ctx := ws.CloseRead(r.Context()) // the client only listens; anything it sends closes nothing but is dropped
	ping := time.NewTicker(30 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			ws.Close(websocket.StatusNormalClosure, "")
			return
		case b, ok := <-lc.out:
			if !ok { // dropped by the hub; its reason is set before the close
				ws.Close(lc.code, lc.why)
				return
			}
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := ws.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				return
			}
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := ws.Ping(pctx)
			cancel()
			if err != nil {
				return
			}
		}
	}
}
