package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
)

// runChat registers the ChatStore subtests.
func runChat(t *testing.T, open func(t *testing.T) dialtone.Store) {
	t.Run("Conversations", func(t *testing.T) { testConversations(t, open(t)) })
	t.Run("ConversationsPages", func(t *testing.T) { testConversationsPages(t, open(t)) })
	t.Run("DirectConcurrent", func(t *testing.T) { testDirectConcurrent(t, open(t)) })
	t.Run("Messages", func(t *testing.T) { testMessages(t, open(t)) })
	t.Run("MessagesAfter", func(t *testing.T) { testMessagesAfter(t, open(t)) })
	t.Run("MessagesAfterConcurrent", func(t *testing.T) { testMessagesAfterConcurrent(t, open(t)) })
	t.Run("ReadMarkers", func(t *testing.T) { testReadMarkers(t, open(t)) })
	t.Run("Attachments", func(t *testing.T) { testAttachments(t, open(t)) })
}

func createConversation(t testing.TB, st dialtone.Store, kind string, owner int64, members ...int64) *dialtone.Conversation {
	t.Helper()
	c := &dialtone.Conversation{Kind: kind, Title: kind + " chat", OwnerID: owner, Members: append([]int64{owner}, members...), CreatedAt: Base}
	if err := st.CreateConversation(context.Background(), c); err != nil {
		t.Fatalf("CreateConversation(%s %v) = %v", kind, c.Members, err)
	}
	return c
}

func conversationIDs(cs []dialtone.Conversation) []int64 {
	var ids []int64
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

func testConversations(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice, bob, carol := newAccount(t, st, "alice"), newAccount(t, st, "bob"), newAccount(t, st, "carol")

	g := &dialtone.Conversation{Kind: dialtone.Group, Title: "Team \"ünïcode\"", OwnerID: bob.ID, Members: []int64{carol.ID, bob.ID, alice.ID},
		CreatedAt: Base.Add(11 * time.Microsecond)}
	if err := st.CreateConversation(ctx, g); err != nil {
		t.Fatalf("CreateConversation(group) = %v", err)
	}
	if g.ID == 0 {
		t.Fatalf("CreateConversation(group) left ID unset")
	}
	got, err := st.Conversation(ctx, g.ID)
	want := &dialtone.Conversation{ID: g.ID, Kind: dialtone.Group, Title: g.Title, OwnerID: bob.ID, Members: []int64{alice.ID, bob.ID, carol.ID}, CreatedAt: g.CreatedAt}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Conversation(group) = %+v, %v; want %+v (members ordered by ID)", got, err, want)
	}
	if _, err := st.Conversation(ctx, 987654); !errors.Is(err, dialtone.ErrNotFound) {
		t.Errorf("Conversation(unknown) = %v, want %v", err, dialtone.ErrNotFound)
	}

	// A direct conversation exists once per pair, whoever creates it.
	d := &dialtone.Conversation{Kind: dialtone.Direct, OwnerID: alice.ID, Members: []int64{alice.ID, bob.ID}, CreatedAt: Base.Add(time.Minute)}
	if err := st.CreateConversation(ctx, d); err != nil || d.ID == 0 || d.ID == g.ID {
		t.Fatalf("CreateConversation(direct) = %v, ID %d", err, d.ID)
	}
	again := &dialtone.Conversation{Kind: dialtone.Direct, Title: "ignored", OwnerID: bob.ID, Members: []int64{bob.ID, alice.ID}, CreatedAt: Base.Add(time.Hour)}
	if err := st.CreateConversation(ctx, again); err != nil {
		t.Fatalf("CreateConversation(the same pair again) = %v", err)
	}
	wantD := &dialtone.Conversation{ID: d.ID, Kind: dialtone.Direct, OwnerID: alice.ID, Members: []int64{alice.ID, bob.ID}, CreatedAt: Base.Add(time.Minute)}
	if !reflect.DeepEqual(again, wantD) {
		t.Errorf("CreateConversation(bob, alice after alice, bob) set %+v, want the first one %+v", again, wantD)
	}
	noTime := &dialtone.Conversation{Kind: dialtone.Direct, OwnerID: alice.ID, Members: []int64{alice.ID, carol.ID}}
	if err := st.CreateConversation(ctx, noTime); err != nil || noTime.ID == d.ID || noTime.CreatedAt.IsZero() {
		t.Errorf("CreateConversation(another pair, no CreatedAt) = %v, ID %d, CreatedAt %v; want a new one with the time set", err, noTime.ID, noTime.CreatedAt)
	}
	// A group of the same two people is another conversation.
	g2 := createConversation(t, st, dialtone.Group, alice.ID, bob.ID)
	if g2.ID == d.ID {
		t.Errorf("CreateConversation(group of alice, bob) returned the direct conversation")
	}
	b := createConversation(t, st, dialtone.Broadcast, carol.ID, alice.ID, bob.ID)
	if got, _ := st.Conversation(ctx, b.ID); got.Kind != dialtone.Broadcast || len(got.Members) != 3 {
		t.Errorf("Conversation(broadcast) = %+v", got)
	}

	// Refusals store nothing.
	before, _ := st.Conversations(ctx, alice.ID, 0, 100)
	if err := st.CreateConversation(ctx, &dialtone.Conversation{Kind: "channel", OwnerID: alice.ID, Members: []int64{alice.ID, bob.ID}, CreatedAt: Base}); err == nil {
		t.Errorf("CreateConversation(kind channel) = nil, want an error")
	}
	if err := st.CreateConversation(ctx, &dialtone.Conversation{Kind: dialtone.Group, OwnerID: alice.ID, Members: []int64{alice.ID, 987654}, CreatedAt: Base}); err == nil {
		t.Errorf("CreateConversation(unknown member) = nil, want an error")
	}
	if err := st.CreateConversation(ctx, &dialtone.Conversation{Kind: dialtone.Direct, OwnerID: alice.ID, Members: []int64{alice.ID, 987654}, CreatedAt: Base}); err == nil {
		t.Errorf("CreateConversation(direct with an unknown member) = nil, want an error")
	}
	if after, _ := st.Conversations(ctx, alice.ID, 0, 100); fmt.Sprint(conversationIDs(after)) != fmt.Sprint(conversationIDs(before)) {
		t.Errorf("after refused creations alice has %v, want %v", conversationIDs(after), conversationIDs(before))
	}
	// The refusals left no half-made conversation behind: new ones still work.
	dave := newAccount(t, st, "dave")
	dd := createConversation(t, st, dialtone.Direct, alice.ID, dave.ID)
	if got, err := st.Conversation(ctx, dd.ID); err != nil || !reflect.DeepEqual(got.Members, []int64{alice.ID, dave.ID}) {
		t.Errorf("Conversation(alice, dave) = %+v, %v", got, err)
	}
}

func testConversationsPages(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice, bob, carol := newAccount(t, st, "alice"), newAccount(t, st, "bob"), newAccount(t, st, "carol")
	var mine []int64 // alice's, newest first
	for i := range 7 {
		var c *dialtone.Conversation
		switch i % 3 {
		case 0:
			c = createConversation(t, st, dialtone.Group, bob.ID, alice.ID, carol.ID)
		case 1:
			c = createConversation(t, st, dialtone.Group, alice.ID)
		case 2:
			createConversation(t, st, dialtone.Group, bob.ID, carol.ID) // not alice's
			continue
		}
		mine = append([]int64{c.ID}, mine...)
	}
	d := createConversation(t, st, dialtone.Direct, carol.ID, alice.ID)
	mine = append([]int64{d.ID}, mine...)
	// Posting a message does not reorder: the order is by conversation ID.
	if err := st.PostMessage(ctx, &dialtone.Message{ConversationID: mine[len(mine)-1], SenderID: alice.ID, Kind: dialtone.TextMessage, Body: `{"text":"hi"}`}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		account int64
		before  int64
		limit   int
		want    []int64
	}{
		{"all", alice.ID, 0, 100, mine},
		{"first page", alice.ID, 0, 2, mine[:2]},
		{"second page", alice.ID, mine[1], 2, mine[2:4]},
		{"last page", alice.ID, mine[3], 2, mine[4:]},
		{"past the end", alice.ID, mine[len(mine)-1], 2, nil},
		{"unknown account", 987654, 0, 100, nil},
	}
	for _, tt := range tests {
		got, err := st.Conversations(ctx, tt.account, tt.before, tt.limit)
		if err != nil {
			t.Fatalf("Conversations(%s) = %v", tt.name, err)
		}
		if fmt.Sprint(conversationIDs(got)) != fmt.Sprint(tt.want) {
			t.Errorf("Conversations(%s) = %v, want %v", tt.name, conversationIDs(got), tt.want)
		}
	}
	// Listed conversations are complete, members included.
	got, _ := st.Conversations(ctx, alice.ID, 0, 1)
	if len(got) != 1 || got[0].Kind != dialtone.Direct || got[0].OwnerID != carol.ID || !reflect.DeepEqual(got[0].Members, []int64{alice.ID, carol.ID}) || !got[0].CreatedAt.Equal(Base) {
		t.Errorf("Conversations(newest) = %+v, want the direct conversation with carol, members and all", got)
	}
}

// testDirectConcurrent: the same direct conversation created by both people
// at once exists once.
func testDirectConcurrent(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice, bob := newAccount(t, st, "alice"), newAccount(t, st, "bob")
	const n = 20
	ids := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &dialtone.Conversation{Kind: dialtone.Direct, OwnerID: alice.ID, Members: []int64{alice.ID, bob.ID}, CreatedAt: Base}
			if i%2 == 1 {
				c.OwnerID, c.Members = bob.ID, []int64{bob.ID, alice.ID}
			}
			if err := st.CreateConversation(ctx, c); err != nil {
				t.Errorf("CreateConversation(direct, %d) = %v", i, err)
			}
			ids[i] = c.ID
		}()
	}
	wg.Wait()
	for i := range ids {
		if ids[i] != ids[0] || ids[i] == 0 {
			t.Fatalf("%d concurrent creations of one direct conversation gave IDs %v, want one ID", n, ids)
		}
	}
	for _, who := range []int64{alice.ID, bob.ID} {
		if cs, err := st.Conversations(ctx, who, 0, 100); err != nil || len(cs) != 1 || cs[0].ID != ids[0] || len(cs[0].Members) != 2 {
			t.Errorf("Conversations(%d) = %+v, %v; want the one direct conversation", who, cs, err)
		}
	}
}

func messageIDs(ms []dialtone.Message) []int64 {
	var ids []int64
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	return ids
}

func testMessages(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice, bob := newAccount(t, st, "alice"), newAccount(t, st, "bob")
	c := createConversation(t, st, dialtone.Direct, alice.ID, bob.ID)
	other := createConversation(t, st, dialtone.Group, alice.ID, bob.ID)

	first := &dialtone.Message{ConversationID: c.ID, SenderID: alice.ID, Kind: dialtone.TextMessage, Body: `{"text":"héllo \"you\" 👋"}`, CreatedAt: Base.Add(13 * time.Microsecond)}
	if err := st.PostMessage(ctx, first); err != nil || first.ID == 0 {
		t.Fatalf("PostMessage() = %v, ID %d", err, first.ID)
	}
	if got, err := st.Messages(ctx, c.ID, 0, 10); err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], *first) {
		t.Errorf("Messages() = %+v, %v; want [%+v]", got, err, *first)
	}
	noTime := &dialtone.Message{ConversationID: c.ID, SenderID: bob.ID, Kind: dialtone.LocationMessage, Body: `{"lat":1,"lng":2,"label":"x"}`}
	if err := st.PostMessage(ctx, noTime); err != nil || noTime.ID <= first.ID || noTime.CreatedAt.IsZero() {
		t.Errorf("PostMessage(no CreatedAt) = %v, ID %d, CreatedAt %v; want a later ID and the time set", err, noTime.ID, noTime.CreatedAt)
	}
	if err := st.PostMessage(ctx, &dialtone.Message{ConversationID: 987654, SenderID: alice.ID, Kind: dialtone.TextMessage, Body: `{}`, CreatedAt: Base}); err == nil {
		t.Errorf("PostMessage(unknown conversation) = nil, want an error")
	}

	all := []int64{noTime.ID, first.ID} // newest first
	for i := range 6 {
		// Created times run backwards: the order is by ID, not by time.
		m := &dialtone.Message{ConversationID: c.ID, SenderID: bob.ID, Kind: dialtone.TextMessage, Body: fmt.Sprintf(`{"text":"%d"}`, i), CreatedAt: Base.Add(-time.Duration(i) * time.Hour)}
		if err := st.PostMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		all = append([]int64{m.ID}, all...)
		if err := st.PostMessage(ctx, &dialtone.Message{ConversationID: other.ID, SenderID: bob.ID, Kind: dialtone.TextMessage, Body: `{}`, CreatedAt: Base}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		conv   int64
		before int64
		limit  int
		want   []int64
	}{
		{"all", c.ID, 0, 100, all},
		{"first page", c.ID, 0, 3, all[:3]},
		{"second page", c.ID, all[2], 3, all[3:6]},
		{"last page", c.ID, all[5], 3, all[6:]},
		{"past the end", c.ID, all[len(all)-1], 3, nil},
		{"unknown conversation", 987654, 0, 100, nil},
	}
	for _, tt := range tests {
		got, err := st.Messages(ctx, tt.conv, tt.before, tt.limit)
		if err != nil {
			t.Fatalf("Messages(%s) = %v", tt.name, err)
		}
		if fmt.Sprint(messageIDs(got)) != fmt.Sprint(tt.want) {
			t.Errorf("Messages(%s) = %v, want %v", tt.name, messageIDs(got), tt.want)
		}
		for _, m := range got {
			if m.ConversationID != tt.conv {
				t.Errorf("Messages(%s) holds %+v", tt.name, m)
			}
		}
	}
	if got, _ := st.Messages(ctx, c.ID, 0, 1); len(got) != 1 || got[0].Body != `{"text":"5"}` || got[0].SenderID != bob.ID || !got[0].CreatedAt.Equal(Base.Add(-5*time.Hour)) {
		t.Errorf("Messages(newest) = %+v", got)
	}
}

// testMessagesAfter: an account lists what was posted in all its
// conversations after a message ID, oldest first, page by page, and
// nothing of conversations it is not in.
func testMessagesAfter(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice, bob, carol := newAccount(t, st, "alice"), newAccount(t, st, "bob"), newAccount(t, st, "carol")
	ab := createConversation(t, st, dialtone.Direct, alice.ID, bob.ID)
	ac := createConversation(t, st, dialtone.Group, alice.ID, carol.ID)
	bc := createConversation(t, st, dialtone.Direct, bob.ID, carol.ID)
	var forAlice, forBob []int64
	var first dialtone.Message
	for i, conv := range []*dialtone.Conversation{ab, bc, ac, ab, bc, ac, ac} {
		// Created times run backwards: the order is by ID, not by time.
		m := &dialtone.Message{ConversationID: conv.ID, SenderID: conv.OwnerID, Kind: dialtone.TextMessage,
			Body: fmt.Sprintf(`{"text":"%d"}`, i), CreatedAt: Base.Add(-time.Duration(i) * time.Minute)}
		if err := st.PostMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = *m
		}
		if conv != bc {
			forAlice = append(forAlice, m.ID)
		}
		if conv != ac {
			forBob = append(forBob, m.ID)
		}
	}
	tests := []struct {
		name    string
		account int64
		after   int64
		limit   int
		want    []int64
	}{
		{"alice, all", alice.ID, 0, 100, forAlice},
		{"alice, first page", alice.ID, 0, 2, forAlice[:2]},
		{"alice, second page", alice.ID, forAlice[1], 2, forAlice[2:4]},
		{"alice, last page", alice.ID, forAlice[3], 2, forAlice[4:]},
		{"alice, after her newest", alice.ID, forAlice[4], 2, nil},
		{"alice, after a message of a conversation she is not in", alice.ID, forBob[1], 100, forAlice[1:]},
		{"bob, all", bob.ID, 0, 100, forBob},
		{"an unknown account", 987654, 0, 100, nil},
	}
	for _, tt := range tests {
		got, err := st.MessagesAfter(ctx, tt.account, tt.after, tt.limit)
		if err != nil {
			t.Fatalf("MessagesAfter(%s) = %v", tt.name, err)
		}
		if fmt.Sprint(messageIDs(got)) != fmt.Sprint(tt.want) {
			t.Errorf("MessagesAfter(%s) = %v, want %v", tt.name, messageIDs(got), tt.want)
		}
	}
	if got, _ := st.MessagesAfter(ctx, bob.ID, 0, 1); len(got) != 1 || !reflect.DeepEqual(got[0], first) {
		t.Errorf("MessagesAfter(bob, 0, 1) = %+v, want [%+v]", got, first)
	}
}

// testMessagesAfterConcurrent: a reader following the messages of its
// conversations after the last ID it saw, while several writers post at
// once, misses none of them: no message becomes visible after one with a
// higher ID.
func testMessagesAfterConcurrent(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice, bob := newAccount(t, st, "alice"), newAccount(t, st, "bob")
	const writers, each = 8, 25
	convs := make([]*dialtone.Conversation, writers)
	for i := range convs {
		convs[i] = createConversation(t, st, dialtone.Group, bob.ID, alice.ID)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				m := &dialtone.Message{ConversationID: convs[w].ID, SenderID: bob.ID, Kind: dialtone.TextMessage, Body: fmt.Sprintf(`{"text":"%d"}`, i)}
				if err := st.PostMessage(ctx, m); err != nil {
					t.Errorf("PostMessage() = %v", err)
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	seen := map[int64]bool{}
	var after int64
	follow := func() {
		for {
			got, err := st.MessagesAfter(ctx, alice.ID, after, 7)
			if err != nil {
				t.Fatalf("MessagesAfter() = %v", err)
			}
			for _, m := range got {
				seen[m.ID] = true
				after = m.ID
			}
			if len(got) < 7 {
				return
			}
		}
	}
	for following := true; following; {
		select {
		case <-done:
			following = false
		default:
		}
		follow()
	}
	follow() // what the last writes committed
	all, err := st.MessagesAfter(ctx, alice.ID, 0, writers*each+1)
	if err != nil || len(all) != writers*each {
		t.Fatalf("MessagesAfter(0) = %d messages, %v; want %d", len(all), err, writers*each)
	}
	missed := 0
	for _, m := range all {
		if !seen[m.ID] {
			missed++
		}
	}
	if missed > 0 {
		t.Errorf("the reader following after the last ID it saw missed %d of %d messages", missed, len(all))
	}
}

func testReadMarkers(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice, bob, carol, dave := newAccount(t, st, "alice"), newAccount(t, st, "bob"), newAccount(t, st, "carol"), newAccount(t, st, "dave")
	g := createConversation(t, st, dialtone.Group, alice.ID, bob.ID, carol.ID)
	other := createConversation(t, st, dialtone.Direct, alice.ID, bob.ID)
	var ids []int64
	for i := range 5 {
		m := &dialtone.Message{ConversationID: g.ID, SenderID: alice.ID, Kind: dialtone.TextMessage, Body: fmt.Sprintf(`{"text":"%d"}`, i), CreatedAt: Base}
		if err := st.PostMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	marks := func(conv int64, want map[int64]int64) {
		t.Helper()
		got, err := st.ReadMarkers(ctx, conv)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ReadMarkers(%d) = %v, %v; want %v", conv, got, err, want)
		}
	}
	marks(g.ID, map[int64]int64{alice.ID: 0, bob.ID: 0, carol.ID: 0})

	wantErr(t, "MarkRead(bob, 3rd)", st.MarkRead(ctx, g.ID, bob.ID, ids[2]), nil)
	wantErr(t, "MarkRead(carol, 1st)", st.MarkRead(ctx, g.ID, carol.ID, ids[0]), nil)
	marks(g.ID, map[int64]int64{alice.ID: 0, bob.ID: ids[2], carol.ID: ids[0]})

	// Markers only move forward.
	wantErr(t, "MarkRead(bob, 2nd)", st.MarkRead(ctx, g.ID, bob.ID, ids[1]), nil)
	marks(g.ID, map[int64]int64{alice.ID: 0, bob.ID: ids[2], carol.ID: ids[0]})
	wantErr(t, "MarkRead(bob, 0)", st.MarkRead(ctx, g.ID, bob.ID, 0), nil)
	wantErr(t, "MarkRead(bob, 3rd again)", st.MarkRead(ctx, g.ID, bob.ID, ids[2]), nil)
	marks(g.ID, map[int64]int64{alice.ID: 0, bob.ID: ids[2], carol.ID: ids[0]})
	wantErr(t, "MarkRead(bob, 5th)", st.MarkRead(ctx, g.ID, bob.ID, ids[4]), nil)
	marks(g.ID, map[int64]int64{alice.ID: 0, bob.ID: ids[4], carol.ID: ids[0]})

	// A non-member's marker, or one in an unknown conversation, is ignored.
	wantErr(t, "MarkRead(non-member)", st.MarkRead(ctx, g.ID, dave.ID, ids[4]), nil)
	wantErr(t, "MarkRead(unknown conversation)", st.MarkRead(ctx, 987654, bob.ID, ids[4]), nil)
	marks(g.ID, map[int64]int64{alice.ID: 0, bob.ID: ids[4], carol.ID: ids[0]})
	marks(other.ID, map[int64]int64{alice.ID: 0, bob.ID: 0})
	marks(987654, map[int64]int64{})

	// Concurrent markers of one member end at the highest.
	var wg sync.WaitGroup
	for _, id := range ids {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := st.MarkRead(ctx, g.ID, carol.ID, id); err != nil {
					t.Errorf("MarkRead(carol, %d) = %v", id, err)
				}
			}()
		}
	}
	wg.Wait()
	marks(g.ID, map[int64]int64{alice.ID: 0, bob.ID: ids[4], carol.ID: ids[4]})
}

func testAttachments(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice, bob := newAccount(t, st, "alice"), newAccount(t, st, "bob")
	a := &dialtone.Attachment{ID: "3f1c2a9e-att", OwnerID: alice.ID, Type: "image/jpeg", Size: 5 << 30, CreatedAt: Base.Add(17 * time.Microsecond)}
	if err := st.CreateAttachment(ctx, a); err != nil {
		t.Fatalf("CreateAttachment() = %v", err)
	}
	got, err := st.Attachment(ctx, a.ID)
	if err != nil || !reflect.DeepEqual(got, a) {
		t.Errorf("Attachment(%s) = %+v, %v; want %+v", a.ID, got, err, a)
	}
	if _, err := st.Attachment(ctx, "nope"); !errors.Is(err, dialtone.ErrNotFound) {
		t.Errorf("Attachment(unknown) = %v, want %v", err, dialtone.ErrNotFound)
	}
	if _, err := st.Attachment(ctx, "3F1C2A9E-ATT"); !errors.Is(err, dialtone.ErrNotFound) {
		t.Errorf("Attachment(the ID in upper case) = %v, want %v: IDs are exact", err, dialtone.ErrNotFound)
	}
	// An ID is used once: a second record with it fails and changes nothing.
	if err := st.CreateAttachment(ctx, &dialtone.Attachment{ID: a.ID, OwnerID: bob.ID, Type: "text/plain", Size: 1, CreatedAt: Base}); err == nil {
		t.Errorf("CreateAttachment(same ID) = nil, want an error")
	}
	if err := st.CreateAttachment(ctx, &dialtone.Attachment{ID: "orphan", OwnerID: 987654, Type: "text/plain", Size: 1, CreatedAt: Base}); err == nil {
		t.Errorf("CreateAttachment(unknown owner) = nil, want an error")
	}
	if got, _ := st.Attachment(ctx, a.ID); !reflect.DeepEqual(got, a) {
		t.Errorf("Attachment(%s) after a refused duplicate = %+v, want %+v", a.ID, got, a)
	}
}
