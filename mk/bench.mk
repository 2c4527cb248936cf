##@ Benchmarks

# Seconds per measurement (pgbench, each wrk run, the load tool).
BENCH_SECONDS ?= 10

.PHONY: bench
bench: bench-app ## Run every benchmark (one run on this machine; figures for BENCHMARKS.md)

.PHONY: bench-app
bench-app: deps ## Vote app: pgbench and nginx ceilings, then votes and /api/results through nginx (table in .work/bench-app.md)
	scripts/system-deps.sh app bench
	BENCH_SECONDS=$(BENCH_SECONDS) node bench/app.ts
