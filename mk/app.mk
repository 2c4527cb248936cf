##@ Vote app

# The backend tests start real PostgreSQL and Redis servers (Debian packages).
.PHONY: system-deps-app
system-deps-app: ## Install the vote app's Debian packages (postgresql, redis-server, nginx) when missing
	scripts/system-deps.sh app

TEST_DEPS += system-deps-app

.PHONY: test-backend
test-backend: deps system-deps-app ## Run the backend tests only (real PostgreSQL and Redis on free ports)
	vitest run test/app/backend

.PHONY: migrate
migrate: deps ## Apply the schema migrations once to the database named by PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD_FILE
	node app/backend/migrate.ts
