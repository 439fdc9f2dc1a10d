// Package webrtc owns the WebRTC leg of a call: the browser's side of the
// app-to-phone bridge. It takes the browser's SDP offer from a SIP INVITE
// (JSEP, RFC 8829; every candidate in it, no trickle), checks that it is a
// DTLS-SRTP offer (RFC 5763, RFC 5764, RFC 8842), builds the SDP answer
// with exactly the payload formats the switch picked, runs ICE (RFC 8445)
// and DTLS-SRTP with pion/webrtc, and then moves RTP: [Peer.ReadRTP] hands
// the switch the browser's packets, SRTP-decrypted, and [Peer.WriteRTP]
// sends the switch's packets to the browser as they are, telephone-events
// (RFC 4733) included. RTCP (RFC 3550) sender and receiver reports run
// underneath; the newest loss the browser reports about our stream is
// [Peer.FractionLost]. Re-offers inside the call (hold, unhold, ICE
// restart) go through [Peer.Reoffer].
//
// One [Engine] holds one pion API (MediaEngine, SettingEngine,
// interceptors) and one UDP port, an ICE UDP mux that every call's media
// shares; each call is a [Peer] with its own PeerConnection. The package
// does no SIP, no transcoding and no call control: the switch picks the
// codecs from [Peer.Offered] and puts the answer in its SIP response.
//
// The direction of the audio (RFC 3264 section 6.1) is this package's,
// not pion's: pion always sees sendrecv, and the answer the browser gets
// says what the offer asked for (see rewrite.go for why).
//
// Concurrency: every method of [Engine] and [Peer] is safe for concurrent
// use. [Peer.Answer] and [Peer.Reoffer] are signaling steps and take
// turns. The media methods are meant for one reader goroutine (ReadRTP;
// concurrent readers take turns) and one writer goroutine (WriteRTP).
// Close may be called at any time from any goroutine and unblocks both.
// Each Peer owns the goroutines it starts (a supervisor for the handshake
// timeout and two RTCP readers) and waits for them, and for pion's, in
// Close; the Engine closes every peer still open in its Close.
//
// Per-packet paths (ReadRTP, WriteRTP) neither log nor allocate, pion's
// part included (see headercache.go and the benchmarks).
package webrtc
