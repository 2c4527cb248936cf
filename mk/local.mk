##@ Local stack

# The stack's directory: data, logs, pid files, generated secrets (0600).
STACK_DIR ?= $(WORK)/stack
# The URL make up prints is http://127.0.0.1:$(PROXY_PORT).
PROXY_PORT ?= 8080

.PHONY: up
up: deps ## Start PostgreSQL, Redis, backend, frontend, nginx as local processes (data in .work/stack); prints the URL
	scripts/system-deps.sh app
	node app/local/stack.ts up --dir $(STACK_DIR) --port $(PROXY_PORT)

.PHONY: down
down: deps ## Stop the local stack by its pids (data kept for the next make up)
	node app/local/stack.ts down --dir $(STACK_DIR)

.PHONY: system-deps-browser
system-deps-browser:
	scripts/system-deps.sh app browser

# The proxy, load and browser tests need nginx, PostgreSQL, Redis and Chromium.
TEST_DEPS += system-deps-browser
