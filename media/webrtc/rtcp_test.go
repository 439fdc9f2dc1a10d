package webrtc

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
)

func TestFractionLost(t *testing.T) {
	e := newEngine(t, Config{})
	k := dial(t, e, "opus", 48000)
	ours := answerSSRC(t, audioMedia(t, k.answer))
	if got := k.p.FractionLost(); got != 0 {
		t.Errorf("FractionLost() before any report = %d, want 0", got)
	}
	browser := k.c.track.bound.Load().ssrc
	tests := []struct {
		name string
		pkts []rtcp.Packet
		want uint8
	}{
		{"receiver report", []rtcp.Packet{&rtcp.ReceiverReport{SSRC: browser, Reports: []rtcp.ReceptionReport{{SSRC: ours, FractionLost: 77}}}}, 77},
		// Chromium, sending, puts its report blocks in its sender report.
		{"sender report block", []rtcp.Packet{&rtcp.SenderReport{SSRC: browser, Reports: []rtcp.ReceptionReport{{SSRC: ours, FractionLost: 12}}}}, 12},
		{"compound with a PLI and a NACK", []rtcp.Packet{
			&rtcp.ReceiverReport{SSRC: browser, Reports: []rtcp.ReceptionReport{{SSRC: ours, FractionLost: 200}}},
			&rtcp.PictureLossIndication{SenderSSRC: browser, MediaSSRC: ours},
			&rtcp.TransportLayerNack{SenderSSRC: browser, MediaSSRC: ours, Nacks: []rtcp.NackPair{{PacketID: 1}}},
		}, 200},
		{"back to no loss", []rtcp.Packet{&rtcp.ReceiverReport{SSRC: browser, Reports: []rtcp.ReceptionReport{{SSRC: ours}}}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := k.c.pc.WriteRTCP(tt.pkts); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(wait)
			for k.p.FractionLost() != tt.want && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if got := k.p.FractionLost(); got != tt.want {
				t.Errorf("FractionLost() = %d, want %d", got, tt.want)
			}
		})
	}
	// A report about someone else's stream is not about ours: it changes
	// nothing, while a report about ours that follows it is taken.
	other := []rtcp.Packet{&rtcp.ReceiverReport{SSRC: browser, Reports: []rtcp.ReceptionReport{{SSRC: ours + 1, FractionLost: 99}}}}
	mine := []rtcp.Packet{&rtcp.ReceiverReport{SSRC: browser, Reports: []rtcp.ReceptionReport{{SSRC: ours, FractionLost: 5}}}}
	if err := k.c.pc.WriteRTCP(other); err != nil {
		t.Fatal(err)
	}
	if err := k.c.pc.WriteRTCP(mine); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(wait)
	for k.p.FractionLost() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := k.p.FractionLost(); got != 5 {
		t.Errorf("FractionLost() after a report on another SSRC and one on ours = %d, want 5", got)
	}
}
