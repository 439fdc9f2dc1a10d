package webrtc

import (
	"github.com/pion/rtcp"
	pion "github.com/pion/webrtc/v4"
)

// readSenderRTCP reads the RTCP the browser sends about our stream until
// the sender stops. Pion needs it read: its interceptors see RTCP only as
// it is read. A reception report block (RFC 3550 section 6.4.1) about our
// SSRC, in a receiver report or in the browser's sender report (Chromium
// puts its blocks in its SR while it sends), updates FractionLost. PLI,
// FIR, NACK, REMB and the rest are for video or for retransmission and
// mean nothing for audio: dropped.
func (p *Peer) readSenderRTCP(s *pion.RTPSender) {
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return
		}
		p.noteRTCP(pkts)
	}
}

func (p *Peer) noteRTCP(pkts []rtcp.Packet) {
	t := p.track.Load()
	if t == nil {
		return
	}
	ssrc := t.ssrc()
	for _, pkt := range pkts {
		switch r := pkt.(type) {
		case *rtcp.ReceiverReport:
			p.noteReports(r.Reports, ssrc)
		case *rtcp.SenderReport:
			p.noteReports(r.Reports, ssrc)
		}
	}
}

func (p *Peer) noteReports(reports []rtcp.ReceptionReport, ssrc uint32) {
	for _, r := range reports {
		if r.SSRC == ssrc {
			p.lost.Store(uint32(r.FractionLost))
		}
	}
}

// drainRTCP reads the RTCP about the browser's stream (its sender
// reports) until the receiver stops. Nothing here is for the switch, but
// pion's receiver-report interceptor takes the SR's NTP time from it for
// the LSR and DLSR of our receiver reports (RFC 3550 section 6.4.1), so
// the browser can measure the round trip.
func drainRTCP(r *pion.RTPReceiver) {
	for {
		if _, _, err := r.ReadRTCP(); err != nil {
			return
		}
	}
}
