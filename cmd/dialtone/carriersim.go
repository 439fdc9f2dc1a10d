package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/spf13/cobra"

	"github.com/dialtone/dialtone/carriersim"
)

// newCarrierSimCmd runs the demo carrier (package carriersim).
func newCarrierSimCmd() *cobra.Command {
	var listen, mediaIP string
	var ring time.Duration
	cmd := &cobra.Command{
		Use:   "carrier-sim",
		Short: "Run a demo carrier: answers any number and echoes the audio back",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ip, err := netip.ParseAddr(mediaIP)
			if err != nil {
				return fmt.Errorf("--media-ip: %w", err)
			}
			pc, err := net.ListenPacket("udp", listen)
			if err != nil {
				return fmt.Errorf("carrier-sim listen %s: %w", listen, err)
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)).With("component", "carrier-sim")
			return carriersim.Serve(cmd.Context(), pc, carriersim.Config{MediaIP: ip, Ring: ring, Log: log})
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:5070", "UDP address to take calls on")
	cmd.Flags().StringVar(&mediaIP, "media-ip", "127.0.0.1", "IP to receive and echo RTP on")
	cmd.Flags().DurationVar(&ring, "ring", time.Second, "how long to ring before answering")
	return cmd
}
