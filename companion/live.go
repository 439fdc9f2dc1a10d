package companion

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// hub delivers events to the WebSockets of the accounts they concern. It
// is per process: several API nodes would need a shared bus (not here yet).
type hub struct {
	mu    sync.Mutex
	conns map[int64]map[*liveConn]struct{}
}

type liveConn struct {
	out chan []byte // events to write; full means a slow reader, which is dropped
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

// publish sends v to every connection of the accounts; it never blocks.
func (h *hub) publish(accounts []int64, v any) {
	if m, ok := v.(messageJSON); ok {
		v = map[string]any{"type": "message", "message": m}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, a := range accounts {
		for c := range h.conns[a] {
			select {
			case c.out <- b:
			default: // too slow: its writer closes it
				close(c.out)
				delete(h.conns[a], c)
			}
		}
	}
}

// live: GET /api/v1/live, a WebSocket of events for the caller: new
// messages of their conversations and read markers. Browsers cannot set
// headers on a WebSocket, so the token may come as ?access_token=.
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
			if !ok {
				ws.Close(websocket.StatusPolicyViolation, "too slow")
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
