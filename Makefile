# The two commands a newcomer needs. Both set everything up first (idempotent).
PORT ?= 8501

.PHONY: run test setup team

run:  ## set up, then serve the dashboard on http://127.0.0.1:$(PORT) (embedded store: mlruns/)
	bash scripts/setup.sh
	.venv/bin/python -m dashboard --server.port $(PORT)

test:  ## set up (incl. Chromium for browser tests, Ray for the ray executor), then run the whole suite
	bash scripts/setup.sh --browser --services --ray
	.venv/bin/python -m pytest

setup:
	bash scripts/setup.sh

team:  ## the team stack on this machine: PostgreSQL + mlflow server + dashboard with login (README "Team setup")
	bash scripts/team.sh up
