package companion_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// listen opens the live WebSocket of a token.
func (a *api) listen(token string) *websocket.Conn {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, strings.Replace(a.url, "http", "ws", 1)+"/api/v1/live?access_token="+token, nil)
	if err != nil {
		a.t.Fatalf("dial live: %v", err)
	}
	a.t.Cleanup(func() { ws.CloseNow() })
	return ws
}

// next reads the next event of a live socket.
func next(t *testing.T, ws *websocket.Conn) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("read live event: %v", err)
	}
	var ev map[string]any
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("live event %q: %v", b, err)
	}
	return ev
}

// TestChatLive: two people on WebSockets get each other's messages as they
// are sent, and read markers; outsiders see nothing.
func TestChatLive(t *testing.T) {
	eachStore(t, "open", func(t *testing.T, a *api) {
		alice, _ := a.quickUser("alice")
		bob, _ := a.quickUser("bob")
		eve, _ := a.quickUser("eve")
		code, conv := a.do("POST", "/api/v1/conversations", alice, map[string]any{"kind": "direct", "members": []string{"bob"}})
		if code != 201 {
			t.Fatalf("create conversation = %d %v", code, conv)
		}
		id := fmt.Sprint(conv["id"])
		if code, again := a.do("POST", "/api/v1/conversations", bob, map[string]any{"kind": "direct", "members": []string{"alice"}}); code != 201 || fmt.Sprint(again["id"]) != id {
			t.Errorf("bob opening the same direct conversation = %d %v, want the same id %s", code, again, id)
		}
		wsA, wsB := a.listen(alice), a.listen(bob)
		time.Sleep(50 * time.Millisecond) // both registered
		if code, out := a.do("POST", "/api/v1/conversations/"+id+"/messages", alice, map[string]any{"kind": "text", "body": map[string]string{"text": "hi bob"}}); code != 201 {
			t.Fatalf("post = %d %v", code, out)
		}
		for name, ws := range map[string]*websocket.Conn{"alice": wsA, "bob": wsB} {
			ev := next(t, ws)
			m, _ := ev["message"].(map[string]any)
			if ev["type"] != "message" || m["sender"] != "alice" || m["body"].(map[string]any)["text"] != "hi bob" {
				t.Errorf("%s got %v", name, ev)
			}
		}
		code, out := a.do("POST", "/api/v1/conversations/"+id+"/messages", bob, map[string]any{"kind": "location", "body": map[string]any{"lat": 22.3193, "lng": 114.1694, "label": "Hong Kong"}})
		if code != 201 {
			t.Fatalf("post location = %d %v", code, out)
		}
		if ev := next(t, wsA); ev["message"].(map[string]any)["kind"] != "location" {
			t.Errorf("alice got %v, want bob's location", ev)
		}
		next(t, wsB)
		msgID := out["id"]
		if code, _ := a.do("POST", "/api/v1/conversations/"+id+"/read", alice, map[string]any{"message_id": msgID}); code != 204 {
			t.Errorf("mark read = %d", code)
		}
		if ev := next(t, wsB); ev["type"] != "read" || ev["reader"] != "alice" {
			t.Errorf("bob got %v, want alice's read marker", ev)
		}
		_, c := a.do("GET", "/api/v1/conversations/"+id, bob, nil)
		if read := c["read"].(map[string]any); read["alice"] != msgID {
			t.Errorf("read markers = %v", read)
		}
		// History, newest first, a page of one.
		_, page := a.do("GET", "/api/v1/conversations/"+id+"/messages?limit=1", bob, nil)
		if items := page["items"].([]any); len(items) != 1 || items[0].(map[string]any)["kind"] != "location" || page["next_cursor"] == nil {
			t.Errorf("first page = %v", page)
		}
		// Eve is not in it.
		for _, path := range []string{"/api/v1/conversations/" + id, "/api/v1/conversations/" + id + "/messages"} {
			if code, _ := a.do("GET", path, eve, nil); code != 404 {
				t.Errorf("eve GET %s = %d, want 404", path, code)
			}
		}
		if code, _ := a.do("POST", "/api/v1/conversations/"+id+"/messages", eve, map[string]any{"kind": "text", "body": map[string]string{"text": "hi"}}); code != 404 {
			t.Errorf("eve posting = %d, want 404", code)
		}
		if _, list := a.do("GET", "/api/v1/conversations", eve, nil); len(list["items"].([]any)) != 0 {
			t.Errorf("eve's conversations = %v, want none", list)
		}
	})
}

func TestChatMessagesAndAttachments(t *testing.T) {
	eachStore(t, "open", func(t *testing.T, a *api) {
		alice, _ := a.quickUser("alice")
		bob, _ := a.quickUser("bob")
		carol, _ := a.quickUser("carol")
		_, g := a.do("POST", "/api/v1/conversations", alice, map[string]any{"kind": "group", "title": "team", "members": []string{"bob", "carol"}})
		gid := fmt.Sprint(g["id"])
		post := func(token, conv, kind string, body any) int {
			code, _ := a.do("POST", "/api/v1/conversations/"+conv+"/messages", token, map[string]any{"kind": kind, "body": body})
			return code
		}
		for _, tt := range []struct {
			kind string
			body any
			code int
		}{
			{"text", map[string]string{"text": ""}, 400},
			{"text", map[string]any{"text": "x", "extra": 1}, 400},
			{"location", map[string]any{"lat": 91, "lng": 0}, 400},
			{"location", map[string]any{"lng": 0}, 400},
			{"contact", map[string]string{"name": "Ann", "phone": "+12025550100"}, 201},
			{"image", map[string]string{"attachment": "nope"}, 400},
			{"sticker", map[string]string{"id": "1"}, 400},
		} {
			if code := post(bob, gid, tt.kind, tt.body); code != tt.code {
				t.Errorf("post %s %v = %d, want %d", tt.kind, tt.body, code, tt.code)
			}
		}
		upload := func(token, ctype string, size int) (int, map[string]any) {
			return a.do("POST", "/api/v1/attachments", token, strings.Repeat("x", size), "Content-Type", ctype)
		}
		code, img := upload(alice, "image/png", 1000)
		if code != 201 {
			t.Fatalf("upload image = %d %v", code, img)
		}
		if code, _ := upload(alice, "application/x-msdownload", 10); code != http.StatusUnsupportedMediaType {
			t.Errorf("upload an executable = %d, want 415", code)
		}
		if code, _ := upload(alice, "audio/ogg", 6<<20); code != http.StatusRequestEntityTooLarge {
			t.Errorf("upload 6 MiB of audio = %d, want 413", code)
		}
		if code := post(alice, gid, "image", map[string]string{"attachment": img["id"].(string), "caption": "us"}); code != 201 {
			t.Errorf("post image = %d", code)
		}
		req, _ := http.NewRequest("GET", a.url+"/api/v1/attachments/"+img["id"].(string), nil)
		req.Header.Set("Authorization", "Bearer "+bob)
		if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/png" || res.ContentLength != 1000 {
			t.Errorf("bob fetching the posted image = %v, %v", res, err)
		} else {
			res.Body.Close()
		}
		if code, _ := a.do("GET", "/api/v1/attachments/"+img["id"].(string), "", nil); code != 401 {
			t.Errorf("fetching an attachment without a token = %d, want 401", code)
		}
		if code := post(bob, gid, "image", map[string]string{"attachment": img["id"].(string)}); code != 400 {
			t.Errorf("bob posting alice's attachment = %d, want 400", code)
		}
		if code := post(alice, gid, "voice", map[string]any{"attachment": img["id"].(string), "seconds": 3}); code != 400 {
			t.Errorf("an image as a voice note = %d, want 400", code)
		}
		// A red envelope to the group: bob and carol may grab, alice (the sender) not.
		a.pay("fund-alice", "alice", "1.00")
		code, env := a.do("POST", "/api/v1/envelopes", alice, map[string]any{"conversation": g["id"], "total": "0.20", "count": 2, "mode": "equal"}, "Idempotency-Key", "group-envelope-1")
		if code != 201 {
			t.Fatalf("envelope to the group = %d %v", code, env)
		}
		for name, tok := range map[string]string{"bob": bob, "carol": carol} {
			if code, out := a.do("POST", "/api/v1/envelopes/"+env["id"].(string)+"/grab", tok, nil); code != 200 || out["amount"] != "0.10" {
				t.Errorf("%s grabbing from the group envelope = %d %v", name, code, out)
			}
		}
		// A broadcast list: bob and carol each get it in their direct conversation with alice.
		_, b := a.do("POST", "/api/v1/conversations", alice, map[string]any{"kind": "broadcast", "title": "news", "members": []string{"bob", "carol"}})
		bid := fmt.Sprint(b["id"])
		if code := post(bob, bid, "text", map[string]string{"text": "me too"}); code != 403 {
			t.Errorf("a member posting to a broadcast list = %d, want 403", code)
		}
		if code := post(alice, bid, "text", map[string]string{"text": "office closed friday"}); code != 201 {
			t.Errorf("broadcast = %d", code)
		}
		for name, tok := range map[string]string{"bob": bob, "carol": carol} {
			_, d := a.do("POST", "/api/v1/conversations", tok, map[string]any{"kind": "direct", "members": []string{"alice"}})
			_, msgs := a.do("GET", fmt.Sprintf("/api/v1/conversations/%v/messages", d["id"]), tok, nil)
			items := msgs["items"].([]any)
			if len(items) != 1 || items[0].(map[string]any)["body"].(map[string]any)["text"] != "office closed friday" {
				t.Errorf("%s's direct conversation with alice = %v", name, msgs)
			}
		}
	})
}
