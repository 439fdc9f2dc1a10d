package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestLiveChatAcrossNodes: two switch processes on one PostgreSQL. A
// client on node B's live WebSocket receives, exactly once, a message
// posted through node A's API, and so does a client on node A.
func TestLiveChatAcrossNodes(t *testing.T) {
	carrier := freePort(t) // no call is made: a trunk only for the configuration
	a := startSwitch(t, Options{Store: "postgres", Node: "node-a", Trunks: []int{carrier}, Extra: "api: {signup: open}\n"})
	b := startSwitch(t, Options{StoreURL: a.storeURL, Node: "node-b", Trunks: []int{carrier}, Extra: "api: {signup: open}\n"})
	signin := func(sw *Switch, name string) string {
		t.Helper()
		creds := map[string]string{"username": name, "password": "correct-horse-" + name, "country": "US"}
		if code, out := apiCall(t, sw, "POST", "/api/v1/signup", "", creds); code != 201 {
			t.Fatalf("signup %s = %d %v", name, code, out)
		}
		delete(creds, "country")
		code, out := apiCall(t, sw, "POST", "/api/v1/sessions", "", creds)
		token, _ := out["token"].(string)
		if code != 201 || token == "" {
			t.Fatalf("sign in %s = %d %v", name, code, out)
		}
		return token
	}
	alice := signin(a, "alice")
	bob := signin(b, "bob") // each node serves the accounts of the shared store
	bobOnB, bobOnA := liveSocket(t, b, bob), liveSocket(t, a, bob)
	code, conv := apiCall(t, a, "POST", "/api/v1/conversations", alice, map[string]any{"kind": "direct", "members": []string{"bob"}})
	if code != 201 {
		t.Fatalf("create conversation = %d %v", code, conv)
	}
	id := fmt.Sprint(conv["id"])
	// The live handler registers a socket right after its handshake, which
	// the dial has seen: give it a moment.
	time.Sleep(100 * time.Millisecond)
	texts := []string{"hello from node A", "second"}
	for _, text := range texts {
		if code, out := apiCall(t, a, "POST", "/api/v1/conversations/"+id+"/messages", alice, map[string]any{"kind": "text", "body": map[string]string{"text": text}}); code != 201 {
			t.Fatalf("post on A = %d %v", code, out)
		}
	}
	for name, ws := range map[string]*websocket.Conn{"bob on B": bobOnB, "bob on A": bobOnA} {
		for _, want := range texts { // in order, and the second right after the first: nothing twice
			if sender, text, raw := nextMessage(t, ws); sender != "alice" || text != want {
				t.Errorf("%s got %s, want alice's %q", name, raw, want)
			}
		}
	}
}

// liveSocket opens the companion's live WebSocket on sw as the holder of token.
func liveSocket(t *testing.T, sw *Switch, token string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/api/v1/live?access_token=%s", sw.HTTPPort, token), nil)
	if err != nil {
		t.Fatalf("dial live: %v", err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	return ws
}

// nextMessage reads the next live event of ws, which must be a chat
// message within 10 s, and returns its sender, text and the raw event.
func nextMessage(t *testing.T, ws *websocket.Conn) (sender, text string, raw []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, raw, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("read live event: %v", err)
	}
	var ev struct {
		Type    string `json:"type"`
		Message struct {
			Sender string `json:"sender"`
			Body   struct {
				Text string `json:"text"`
			} `json:"body"`
		} `json:"message"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil || ev.Type != "message" {
		t.Fatalf("live event %s: want a message", raw)
	}
	return ev.Message.Sender, ev.Message.Body.Text, raw
}
