# The two commands a newcomer needs. Both set everything up first (idempotent).
PORT ?= 8501

.PHONY: run test setup

run:  ## set up, then serve the dashboard on http://127.0.0.1:$(PORT) (embedded store: mlruns/)
	bash scripts/setup.sh
	.venv/bin/python -m streamlit run dashboard/app.py --server.port $(PORT)

test:  ## set up (incl. Chromium for browser tests), then run the whole suite
	bash scripts/setup.sh --browser --services
	.venv/bin/python -m pytest

setup:
	bash scripts/setup.sh
