package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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
	call := func(sw *Switch, method, path, token string, body any) (int, map[string]any) {
		t.Helper()
		js, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d%s", sw.HTTPPort, path), bytes.NewReader(js))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return res.StatusCode, out
	}
	signin := func(sw *Switch, name string) string {
		t.Helper()
		creds := map[string]string{"username": name, "password": "correct-horse-" + name, "country": "US"}
		if code, out := call(sw, "POST", "/api/v1/signup", "", creds); code != 201 {
			t.Fatalf("signup %s = %d %v", name, code, out)
		}
		delete(creds, "country")
		code, out := call(sw, "POST", "/api/v1/sessions", "", creds)
		token, _ := out["token"].(string)
		if code != 201 || token == "" {
			t.Fatalf("sign in %s = %d %v", name, code, out)
		}
		return token
	}
	alice := signin(a, "alice")
	bob := signin(b, "bob") // each node serves the accounts of the shared store
	listen := func(sw *Switch, token string) *websocket.Conn {
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
	bobOnB, bobOnA := listen(b, bob), listen(a, bob)
	code, conv := call(a, "POST", "/api/v1/conversations", alice, map[string]any{"kind": "direct", "members": []string{"bob"}})
	if code != 201 {
		t.Fatalf("create conversation = %d %v", code, conv)
	}
	id := fmt.Sprint(conv["id"])
	// The live handler registers a socket right after its handshake, which
	// the dial has seen: give it a moment.
	time.Sleep(100 * time.Millisecond)
	texts := []string{"hello from node A", "second"}
	for _, text := range texts {
		if code, out := call(a, "POST", "/api/v1/conversations/"+id+"/messages", alice, map[string]any{"kind": "text", "body": map[string]string{"text": text}}); code != 201 {
			t.Fatalf("post on A = %d %v", code, out)
		}
	}
	for name, ws := range map[string]*websocket.Conn{"bob on B": bobOnB, "bob on A": bobOnA} {
		for _, want := range texts { // in order, and the second right after the first: nothing twice
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, raw, err := ws.Read(ctx)
			cancel()
			if err != nil {
				t.Fatalf("%s: read live event: %v", name, err)
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
			if err := json.Unmarshal(raw, &ev); err != nil || ev.Type != "message" || ev.Message.Sender != "alice" || ev.Message.Body.Text != want {
				t.Errorf("%s got %s, want alice's %q", name, raw, want)
			}
		}
	}
}
