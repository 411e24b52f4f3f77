# Entry points. The two that matter: `make sandbox` (a local HA cluster in containers, then its
# state) and `make test` (everything CI runs). `make help` lists the rest.
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
export MESOS_HA_VENV := $(VENV)

.PHONY: help bootstrap sandbox sandbox-status sandbox-destroy test lint unit syntax static molecule bench

help:
	@echo "make sandbox          bring up the local HA cluster (5 systemd containers) and show its state"
	@echo "make sandbox-status   show the sandbox's state again"
	@echo "make sandbox-destroy  remove the sandbox's containers and network"
	@echo "make test             run all tests (lint, unit, syntax, every Molecule scenario)"
	@echo "make lint | unit | syntax | static | molecule   run one stage (static: the first three side by side)"
	@echo "make bootstrap        install host packages, start Docker, make the venv, build the image"

bootstrap:
	@bash tools/bootstrap.sh

sandbox:
	@bash tools/sandbox.sh up

sandbox-status:
	@bash tools/sandbox.sh status

sandbox-destroy:
	@bash tools/sandbox.sh down

test:
	@bash tools/test.sh

lint unit syntax static molecule:
	@bash tools/test.sh $@
