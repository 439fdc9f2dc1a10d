# Dialtone. `make run` and `make test` install whatever is missing first.
SHELL := /bin/bash
GO ?= go
BIN := bin/dialtone
CONFIG ?= configs/dialtone.yaml
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
APT := apt-get -o DPkg::Lock::Timeout=120 install -y -qq --no-install-recommends
# Debian packages the tests drive: sipp (sip-tester) as the app's phone and the carriers, baresip as the softphone README.md names, sipvicious as the attacker,
# Kamailio (with its WebSocket modules) as the SIP front of several nodes,
# Chromium (with Node.js, which drives it) as the app user's browser, psql for the money benchmark, and libopus and libopusfile (with gcc and pkg-config) for media/codec.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build web run test test-cluster test-short bench deps deps-go deps-build deps-test deps-bench fuzz lint clean

all: build

## deps: install everything build, run, test and bench need (Go modules, libopus, libopusfile, Node.js, sipp, Chromium, rtpengine)
deps: deps-go deps-build deps-test deps-bench

deps-go:
	@command -v $(GO) >/dev/null || { echo "Go 1.26 is required: https://go.dev/dl/" >&2; exit 1; }
	$(GO) mod download

# What building needs: cgo with libopus and libopusfile (gopkg.in/hraban/opus.v2
# links both), and Node.js with npm for the dialer page.
deps-build:
	@missing=""; \
	command -v cc >/dev/null || missing="$$missing gcc"; \
	command -v pkg-config >/dev/null || missing="$$missing pkg-config"; \
	pkg-config --exists opus 2>/dev/null || missing="$$missing libopus-dev"; \
	pkg-config --exists opusfile 2>/dev/null || missing="$$missing libopusfile-dev"; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) $(APT) $$missing; \
	fi

# What the tests drive besides: sipp, sipvicious, baresip (the softphone README.md names), Kamailio, psql, Chromium.
deps-test:
	@missing=""; \
	command -v sipp >/dev/null || missing="$$missing sip-tester"; \
	command -v svcrack >/dev/null || missing="$$missing sipvicious"; \
	command -v baresip >/dev/null || missing="$$missing baresip"; \
	[ -x /usr/sbin/kamailio ] || missing="$$missing kamailio"; \
	dpkg -s kamailio-websocket-modules >/dev/null 2>&1 || missing="$$missing kamailio-websocket-modules"; \
	command -v psql >/dev/null || missing="$$missing postgresql-client"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) $(APT) $$missing; \
	fi

# What the benchmarks drive besides: rtpengine (Debian's rtpengine-daemon), the media relay
# cmd/relaybench measures Dialtone's against (its ng client's test drives it too, so make test needs it).
# The benchmark runs its own instance (user space, its own ports); the package's service need not run.
deps-bench:
	@command -v rtpengine >/dev/null || { \
		echo "installing: rtpengine-daemon"; \
		$(SUDO) apt-get update -qq && $(SUDO) $(APT) rtpengine-daemon; \
	}

## build: the dialtone binary in bin/, with the dialer page embedded
build: deps-go deps-build web
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/dialtone

## web: the browser dialer in web/dist (embedded by package web): JsSIP and libphonenumber-js bundled by esbuild
web: deps-build web/node_modules/.package-lock.json
	@find web/dist -mindepth 1 ! -name .gitkeep -delete
	web/node_modules/.bin/esbuild web/src/main.js --bundle --format=iife --platform=browser --minify --sourcemap --outfile=web/dist/dialer.js --log-level=warning
	cp web/static/* web/dist/

# npm ci when node_modules is missing or older than package-lock.json. The only
# install script (esbuild's) merely links its binary; esbuild runs without it.
web/node_modules/.package-lock.json: web/package-lock.json
	@command -v npm >/dev/null || { echo "Node.js 20 and npm are needed for the dialer page: make deps-test" >&2; exit 1; }
	cd web && npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

## run: build, create the demo account, start the demo carrier and the switch on the embedded store
run: build
	@mkdir -p data
	@./$(BIN) -c $(CONFIG) migrate >/dev/null
	@./$(BIN) -c $(CONFIG) rates import --plan demo configs/rates-demo.csv >/dev/null
	@./$(BIN) -c $(CONFIG) rates import --plan demo-buy configs/buy-demo.csv >/dev/null
	@DIALTONE_PASSWORD=demo ./$(BIN) -c $(CONFIG) account create demo --country US --plan demo >/dev/null 2>&1 || true
	@DIALTONE_PASSWORD=demo ./$(BIN) -c $(CONFIG) account passwd demo --api >/dev/null
	@./$(BIN) -c $(CONFIG) account plan demo demo >/dev/null
	@./$(BIN) -c $(CONFIG) wallet topup demo 5.00 --key demo-welcome-credit --memo "demo credit" >/dev/null
	@echo "Dialtone: SIP on udp/tcp 127.0.0.1:5060 and WebSocket 127.0.0.1:5066, user demo, password demo, realm dialtone."
	@echo "  Browser: open http://127.0.0.1:8080/, sign in as demo/demo (the API issues the page short-lived SIP credentials), dial any number."
	@echo "  Point a softphone at it (e.g. baresip: <sip:demo@127.0.0.1;transport=udp>;auth_pass=demo;regint=0) and dial any number:"
	@echo "  the demo carrier on 127.0.0.1:5070 answers and echoes your audio back."
	@echo "  demo pays by the demo rate plan (configs/rates-demo.csv) from 5.00 USD: ./$(BIN) wallet show demo;"
	@echo "  finance: ./$(BIN) cdr export --from 2026-01-01 --to 2030-01-01"
	@echo "  Metrics http://127.0.0.1:8080/metrics, health /healthz, /readyz. Ctrl-C stops."
	@./$(BIN) carrier-sim --listen 127.0.0.1:5070 & sim=$$!; \
	trap 'kill $$sim 2>/dev/null' EXIT INT TERM; \
	./$(BIN) -c $(CONFIG) serve

## test: every test under the race detector (the switch binary of the end-to-end tests too), against real sipp peers, SQLite and PostgreSQL
test: deps web
	$(GO) vet ./...
	DIALTONE_E2E_RACE=1 $(GO) test -race -count=1 -timeout 45m ./...

## test-cluster: the cluster test alone (also part of make test): Kamailio in front of three nodes on one PostgreSQL, 300 calls, a node killed with calls up
test-cluster: deps web
	DIALTONE_E2E_RACE=1 $(GO) test -race -count=1 -timeout 20m -run 'TestCluster$$' -v ./e2e

## bench: micro-benchmarks, the SIP load benchmark, the money benchmark and the media relay benchmark (Dialtone against rtpengine)
bench: deps build
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) test -run '^$$' -bench 'Transcode' -benchtime 250x ./media/bridge/
	$(GO) run ./cmd/loadbench -bin $(BIN)
	$(GO) run ./cmd/billbench -bin $(BIN)
	$(GO) run ./cmd/relaybench -bin $(BIN) -calls 50,100 -duration 10s

## fuzz: run each fuzz target for a short while
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./media/sdp
	$(GO) test -run '^$$' -fuzz FuzzVerify -fuzztime 30s ./switch/digest
	$(GO) test -run '^$$' -fuzz FuzzParseSourceHeader -fuzztime 30s ./switch/edge
	$(GO) test -run '^$$' -fuzz FuzzParseAppCredential -fuzztime 30s .
	$(GO) test -run '^$$' -fuzz FuzzNormalize -fuzztime 30s ./trunks
	$(GO) test -run '^$$' -fuzz FuzzCheckCaller -fuzztime 30s ./trunks
	$(GO) test -run '^$$' -fuzz FuzzRelayPacket -fuzztime 30s ./media/rtp
	$(GO) test -run '^$$' -fuzz FuzzParseDeck -fuzztime 30s ./billing
	$(GO) test -run '^$$' -fuzz FuzzOpusDecode -fuzztime 30s ./media/codec
	$(GO) test -run '^$$' -fuzz FuzzParseEvent -fuzztime 30s ./media/codec
	$(GO) test -run '^$$' -fuzz FuzzTranscoder -fuzztime 30s ./media/bridge
	$(GO) test -run '^$$' -fuzz FuzzLimitSettings -fuzztime 30s .

clean:
	rm -rf bin
	find web/dist -mindepth 1 ! -name .gitkeep -delete
