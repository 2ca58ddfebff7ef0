# The demo: ML-100K -> minilm -> {ID-only, pca, whiten, alphafuse, ace at three λ} -> SASRec ->
# evaluate -> report. Every stage skips work that is already up to date, so reruns are cheap.

DEMO        ?= work/demo
DEMO_DIM    := 64
DEMO_TRAIN  := --backbone sasrec --dim $(DEMO_DIM) --samples windows --epochs 200 --patience 10 \
               --threads 1 --device cpu
DEMO_LAMBDA := 1 10 100
DEMO_TABLES := pca whiten alphafuse $(foreach l,$(DEMO_LAMBDA),ace-$(l))
DEMO_RUNS   := id-only $(DEMO_TABLES)

.PHONY: demo demo-report
demo: $(STAMP)
	$(MAKE) --no-print-directory -j2 demo-report
	@cat $(DEMO)/report/results.md

demo-report: $(DEMO)/report/meta.json

$(DEMO)/data/meta.json: $(STAMP)
	$(SPECREC) preprocess ml-100k --out $(DEMO)/data

$(DEMO)/emb/meta.json: $(DEMO)/data/meta.json
	$(SPECREC) embed --dataset $(DEMO)/data --encoder minilm --out $(DEMO)/emb --device cpu

$(DEMO)/tables/pca/meta.json $(DEMO)/tables/whiten/meta.json: $(DEMO)/tables/%/meta.json: $(DEMO)/emb/meta.json
	$(SPECREC) transform $* --embeddings $(DEMO)/emb --dim $(DEMO_DIM) --out $(DEMO)/tables/$*

$(DEMO)/tables/alphafuse/meta.json: $(DEMO)/emb/meta.json
	$(SPECREC) transform alphafuse --embeddings $(DEMO)/emb --dim $(DEMO_DIM) --null-dim 32 \
	  --out $(DEMO)/tables/alphafuse

# one pass over the SVD writes one table per λ: tables/ace/lambda-<λ>
$(DEMO)/tables/ace/done: $(DEMO)/emb/meta.json
	$(SPECREC) transform ace --embeddings $(DEMO)/emb --dim $(DEMO_DIM) \
	  --lambda $(subst $(eval) ,$(comma),$(DEMO_LAMBDA)) --out $(DEMO)/tables/ace
	@touch $@
comma := ,
$(foreach l,$(DEMO_LAMBDA),$(eval $(DEMO)/tables/ace-$(l)/meta.json: $(DEMO)/tables/ace/done))

table_dir = $(if $(filter ace-%,$(1)),$(DEMO)/tables/ace/lambda-$(patsubst ace-%,%,$(1)),$(DEMO)/tables/$(1))

$(DEMO)/runs/id-only/meta.json: $(DEMO)/data/meta.json
	$(SPECREC) train --dataset $(DEMO)/data $(DEMO_TRAIN) --out $(DEMO)/runs/id-only

$(foreach t,$(DEMO_TABLES),$(eval $(DEMO)/runs/$(t)/meta.json: $(DEMO)/tables/$(if $(filter ace-%,$(t)),ace/done,$(t)/meta.json) ; \
	$(SPECREC) train --dataset $(DEMO)/data --table $(call table_dir,$(t)) $(DEMO_TRAIN) --out $(DEMO)/runs/$(t)))

$(DEMO)/evals/%/meta.json: $(DEMO)/runs/%/meta.json
	$(SPECREC) evaluate $(DEMO)/runs/$* --out $(DEMO)/evals/$* --device cpu

$(DEMO)/report/meta.json: $(foreach r,$(DEMO_RUNS),$(DEMO)/evals/$(r)/meta.json) $(DEMO)/tables/ace/done
	$(SPECREC) report $(foreach r,$(DEMO_RUNS),$(DEMO)/evals/$(r)) \
	  $(foreach l,$(DEMO_LAMBDA),$(DEMO)/tables/ace/lambda-$(l)) \
	  --baseline "sasrec · ID-only" --title "SASRec on ML-100K (loo, full sort) with minilm item text" \
	  --out $(DEMO)/report
