# `make experiments`: the ACE preset (experiments/ace.toml with its [budget] settings: about
# 65-75 minutes on 2 cores) planned into work/experiments, run two commands at a time, then
# reported with `specrec report --select` (each group's best configuration by validation score;
# the papers' tables) into work/experiments/report. The wall time, planning included, goes to
# work/experiments/wall_time.txt. A rerun resumes where a killed one stopped.
# EXPERIMENT_SET='--set experiment.budget=false' plans the full grid (a cluster's worth).

EXPERIMENTS     ?= work/experiments
EXPERIMENT_FILE ?= experiments/ace.toml
EXPERIMENT_SET  ?=
EXPERIMENT_JOBS ?= 2
EXPERIMENT_TITLE ?= Experiment preset $(notdir $(EXPERIMENT_FILE))
EXPERIMENT_T0   := $(EXPERIMENTS).started

.PHONY: experiments
experiments: $(STAMP)
	@mkdir -p $(dir $(EXPERIMENT_T0))
	@echo "start $$(date -u +%Y-%m-%dT%H:%M:%SZ) $$(date +%s)" > $(EXPERIMENT_T0)
	$(SPECREC) plan $(EXPERIMENT_FILE) --out $(EXPERIMENTS) $(EXPERIMENT_SET)
	$(MAKE) --no-print-directory -C $(EXPERIMENTS) -j$(EXPERIMENT_JOBS) \
	  REPORT_FLAGS='--select --title "$(EXPERIMENT_TITLE)"'
	@start=$$(cut -d' ' -f3 $(EXPERIMENT_T0)); end=$$(date +%s); \
	  { cat $(EXPERIMENT_T0); \
	    echo "end   $$(date -u +%Y-%m-%dT%H:%M:%SZ) $$end"; \
	    echo "wall  $$((end - start)) s ($$(( (end - start) / 60 )) min), make -j$(EXPERIMENT_JOBS)" \
	      "$(EXPERIMENT_FILE) $(EXPERIMENT_SET)"; \
	  } > $(EXPERIMENTS)/wall_time.txt && rm -f $(EXPERIMENT_T0) && \
	  cat $(EXPERIMENTS)/wall_time.txt
	$(MAKE) --no-print-directory experiments-publish
	@cat $(EXPERIMENTS)/report/results.md

# The report, the papers' tables and figures and the wall time, copied into docs/experiments/
# (docs/experiments.md's "Results" summarises them; results.md there is the whole report).
EXPERIMENT_DOCS ?= docs/experiments
.PHONY: experiments-publish
experiments-publish:
	rm -rf $(EXPERIMENT_DOCS) && mkdir -p $(EXPERIMENT_DOCS)
	cp $(EXPERIMENTS)/report/*.md $(EXPERIMENTS)/report/*.csv $(EXPERIMENTS)/wall_time.txt \
	  $(EXPERIMENT_DOCS)/
	cp $(wildcard $(EXPERIMENTS)/report/*.tex $(EXPERIMENTS)/report/*.png \
	  $(EXPERIMENTS)/report/*.pdf) $(EXPERIMENT_DOCS)/
	cp $(EXPERIMENTS)/selection.json $(EXPERIMENT_DOCS)/
