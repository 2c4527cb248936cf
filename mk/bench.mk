##@ Benchmarks

# Seconds per measurement (pgbench, each wrk run, the load tool), and how many
# interleaved rounds of the four measures (the table shows medians).
BENCH_SECONDS ?= 10
BENCH_ROUNDS ?= 3

.PHONY: bench
bench: bench-app bench-backup bench-chaos ## Run every benchmark (one run on this machine; figures for BENCHMARKS.md)

.PHONY: bench-app
bench-app: deps ## Vote app: pgbench and nginx ceilings vs votes and /api/results through nginx, in rounds (table in .work/bench-app.md)
	scripts/system-deps.sh app bench
	BENCH_SECONDS=$(BENCH_SECONDS) BENCH_ROUNDS=$(BENCH_ROUNDS) node bench/app.ts

.PHONY: bench-chaos
bench-chaos: deps images ## Chaos on three kind nodes: the HA sample, 5 min of the seed's load, a random pod killed and replaced every 30 s (availability, recovery, CPU and memory against limits, votes lost)
	$(DOCKER_ENGINE) run --privileged -- bash -c 'export KIND=$$(scripts/kind-cluster.sh kind) SECUREVOTE_KIND_NODE_IMAGE=$$(scripts/kind-cluster.sh image); node bench/chaos.ts'

.PHONY: bench-backup
bench-backup: deps ## Backups: charts/backup.sh and restore.sh on a local PostgreSQL, 1,000 and 100,000 votes (time, size, vote latency during a backup)
	scripts/system-deps.sh app
	node bench/backup.ts
