// Package rtp is the media plane of a call: it relays RTP and RTCP (RFC
// 3550) between the app's leg and the carrier's, as the media half of a
// B2BUA. It does no SDP, no codec work and no call control; package
// media/bridge drives it.
//
// It owns:
//   - the media sockets: a PortPool hands out Pairs bound on the switch's
//     media IP, RTP on an even port and RTCP on the next odd one (RFC 3550
//     section 11), cycling through the range so a released port is not
//     reused at once, and skipping ports another process holds; an empty
//     pool is ErrNoPorts, which wraps dialtone.ErrUnavailable (503);
//   - the Relay of one call, which joins two legs, A (the app's) and B (the
//     carrier's), and starts relaying at once, so early media flows. A leg
//     is a Pair of ours or an Endpoint: a WebRTC peer (package media/webrtc)
//     that does its own ICE, DTLS-SRTP and RTCP. What one leg receives is
//     sent out of the other unmodified (pass-through), or rewritten by the
//     leg's Processor (transcoding and telephone-event translation, set by
//     package media/bridge, and changeable mid-call with SetProcessor);
//   - the checks on every packet before it is relayed: RTP version, header,
//     CSRC, extension and padding lengths, no RTCP payload types on the RTP
//     port (RFC 5761), at most MaxPacket bytes; for RTCP, version 2, an
//     RTCP packet type and a first packet that fits. Packets that fail are
//     counted as malformed and dropped;
//   - latching: each Pair leg is symmetric (RFC 4961): media for the peer
//     goes where the peer's media comes from, else to the address its SDP
//     gave (SetRemote). Strict RTP (Strict, on by default) decides which
//     sources a leg takes: the SDP address at once; a source behind NAT
//     only after a probation of in-sequence packets, once the call is
//     answered and the expected source has gone quiet. Packets from
//     elsewhere are counted and dropped. A new SDP address un-latches.
//     RTCP follows the RTP source;
//   - RTCP relayed unmodified between two Pairs, not terminated, so the
//     endpoints' own reports stay true end to end with pass-through RTP; an
//     Endpoint makes its own reports, and what the other peer sends toward
//     it is counted and dropped;
//   - the media timeout: once armed (Arm, at answer), when no RTP arrives on
//     either leg for the configured time and no leg is on hold (SetHold), a
//     callback runs once;
//   - per-leg counters (Stats): packets and bytes each way, unsent, dropped
//     and malformed packets, loss from sequence numbers per SSRC, RTCP in
//     and out, the first payload type, the peer and whether it is latched;
//     and PacketSeconds, the relay's own time per packet, a Prometheus
//     histogram the binary registers.
//
// Concurrency: a Relay runs one reader goroutine per RTP socket and per
// RTCP socket of its Pairs (four for two Pairs; an Endpoint's leg has one
// RTP reader), and, once armed, one watcher goroutine with one timer;
// Close stops them all and waits for them, then releases the ports. A
// Processor (Process, then Next for each further packet one packet in
// made) is called only from the one goroutine reading its direction,
// so it needs no lock, and must not block or allocate. The per-packet path
// reuses one buffer and one header per goroutine, does not allocate and
// does not log; the probation of a new source is the RTP reader's own. Leg state is atomics: Stats, SetRemote, SetHold and
// SetProcessor may be called from any goroutine at any time. A PortPool is
// safe for concurrent use; binding happens outside its lock.
package rtp
