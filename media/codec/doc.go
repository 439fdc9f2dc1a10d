// Package codec owns the per-packet audio conversions between the app leg
// (Opus over WebRTC, RFC 7587) and the carrier leg (G.711 PCMU or PCMA,
// RFC 3551): G.711 companding, Opus encoding and decoding through libopus
// at 8 kHz, loss concealment (Opus in-band FEC and PLC), the mapping of
// RTP timestamps between the 48 kHz Opus clock and the 8 kHz G.711 clock,
// the translation of RFC 4733 telephone-events between the two clocks,
// and the cutting of audio into packets of the receiver's packet time
// ([Packetizer]).
//
// It does no I/O and knows nothing of sockets, RTP headers or SDP: the
// media relay reads a packet, hands this package the payload with its
// sequence number and timestamp, and writes what comes back under its own
// header.
//
// Concurrency: [Law] methods, [ParseEvent] and [Event] are safe for
// concurrent use. Every other type ([OpusEncoder], [OpusDecoder],
// [OpusToG711], [G711ToOpus], [EventTranslator], [Timeline], [Packetizer]) holds state
// and is not: use one per call direction, from the one goroutine that
// reads that direction's packets.
//
// Allocation: the per-packet methods write into buffers the caller passes
// (dst first, as in copy) or that the type owns, and do not allocate on
// success. Error results wrap a sentinel with detail and may allocate.
//
// Building needs cgo, pkg-config, libopus and libopusfile (Debian:
// libopus-dev, libopusfile-dev), which gopkg.in/hraban/opus.v2 links.
package codec
