##@ Demo

# The vote page's port on 127.0.0.1 (demo/settings.ts reads DEMO_PORT too).
DEMO_PORT ?= 8080
VOTES ?= 300
PARALLEL ?= 30

.PHONY: demo
demo: deps ## The main job: a kind cluster built here, the operator, the sample SecureVote, the vote page on http://127.0.0.1:8080 (left running)
	@mkdir -p $(WORK)
	DEMO_PORT=$(DEMO_PORT) node demo/main.ts

.PHONY: demo-down
demo-down: deps ## Remove what make demo left running: its kind cluster, and the Docker engine if make demo started it
	node demo/down.ts

.PHONY: status
status: deps ## Each component of the demo's stack: pods, ready, restarts, CPU and memory against its limit (the seed's docker stats)
	node demo/status.ts

.PHONY: load
load: deps ## The seed's load through the demo's page: VOTES votes, PARALLEL voters at once, every vote a new voter
	node test/load/load.ts http://127.0.0.1:$(DEMO_PORT) $(VOTES) $(PARALLEL)

.PHONY: push
push: deps ## Tag and push every image to REGISTRY (e.g. REGISTRY=registry.example.com/team), for clusters that can't load them
	@test -n "$(REGISTRY)" || { echo "make push: set REGISTRY=<registry/prefix>"; exit 2; }
	for i in $$(node -e "import('./demo/settings.ts').then((m) => console.log(m.kindImages().join(' ')))"); do \
	  docker tag $$i $(REGISTRY)/$$i && docker push $(REGISTRY)/$$i || exit 1; done

.PHONY: kill-test
kill-test: deps ## Delete one component's pod (COMPONENT=backend) under load through the demo's page: time until healthy, every acknowledged vote stored
	node demo/kill-test.ts
