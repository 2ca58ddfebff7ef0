# `make results`: {ID-only, pca, ace, alphafuse, whitenrec, unisrec, spectran, llmemb} ×
# {sasrec, gru4rec, bert4rec, hstu} on ML-100K with the bundled encoder -> docs/results.md.
# Reuses the demo's dataset and embeddings; every stage skips work already done.

RES          ?= work/results
RES_DIM      := 64
RES_ACE      := 10
RES_TRAIN    := --dim $(RES_DIM) --samples windows --epochs 100 --patience 10 --threads 1 --device cpu
RES_BACKBONES := sasrec gru4rec bert4rec hstu
RES_METHODS  := pca ace alphafuse whitenrec unisrec spectran llmemb
RES_RUNS     := $(foreach b,$(RES_BACKBONES),$(b)-id-only $(foreach m,$(RES_METHODS),$(b)-$(m)))

.PHONY: results results-report
results: $(STAMP)
	$(MAKE) --no-print-directory -j2 results-report
	{ head -n 1 $(RES)/report/results.md; printf '%s\n' "" \
	  "<!-- written by \`make results\` (mk/results.mk): edit the recipe, not this file -->" \
	  "Regenerate with \`make results\`: ML-100K and MiniLM embeddings from the demo, 7 transforms," \
	  "32 runs of \`specrec train $(RES_TRAIN)\` (seed 0), \`specrec evaluate\`," \
	  "\`specrec report\`; about an hour on 2 CPU cores. Figures: \`$(RES)/report/\`."; \
	  tail -n +2 $(RES)/report/results.md | sed 's#](\([A-Za-z0-9_.-]*\.png\))#](results/\1)#'; \
	} > docs/results.md
	rm -rf docs/results && mkdir -p docs/results && cp $(RES)/report/*.png docs/results/
	@cat docs/results.md

results-report: $(RES)/report/meta.json

$(RES)/tables/pca/meta.json $(RES)/tables/whitenrec/meta.json $(RES)/tables/unisrec/meta.json \
$(RES)/tables/spectran/meta.json $(RES)/tables/llmemb/meta.json: $(RES)/tables/%/meta.json: $(DEMO)/emb/meta.json
	$(SPECREC) transform $* --embeddings $(DEMO)/emb --dim $(RES_DIM) --out $(RES)/tables/$*

$(RES)/tables/ace/meta.json: $(DEMO)/emb/meta.json
	$(SPECREC) transform ace --embeddings $(DEMO)/emb --dim $(RES_DIM) --lambda $(RES_ACE) --std 0.5 --out $(RES)/tables/ace

$(RES)/tables/alphafuse/meta.json: $(DEMO)/emb/meta.json
	$(SPECREC) transform alphafuse --embeddings $(DEMO)/emb --dim $(RES_DIM) --null-dim 32 --out $(RES)/tables/alphafuse

# ID-only runs; LLMEmb aligns to the ID-only run of the same backbone (its teacher)
$(foreach b,$(RES_BACKBONES),$(eval $(RES)/runs/$(b)-id-only/meta.json: $(DEMO)/data/meta.json ; \
	$(SPECREC) train --dataset $(DEMO)/data --backbone $(b) $(RES_TRAIN) --out $(RES)/runs/$(b)-id-only))

$(foreach b,$(RES_BACKBONES),$(foreach m,$(filter-out llmemb,$(RES_METHODS)),$(eval \
$(RES)/runs/$(b)-$(m)/meta.json: $(RES)/tables/$(m)/meta.json $(DEMO)/data/meta.json ; \
	$(SPECREC) train --dataset $(DEMO)/data --table $(RES)/tables/$(m) --backbone $(b) $(RES_TRAIN) --out $(RES)/runs/$(b)-$(m))))

$(foreach b,$(RES_BACKBONES),$(eval \
$(RES)/runs/$(b)-llmemb/meta.json: $(RES)/tables/llmemb/meta.json $(RES)/runs/$(b)-id-only/meta.json ; \
	$(SPECREC) train --dataset $(DEMO)/data --table $(RES)/tables/llmemb --backbone $(b) $(RES_TRAIN) \
	  --embedder-opt teacher=$(RES)/runs/$(b)-id-only --out $(RES)/runs/$(b)-llmemb))

$(RES)/evals/%/meta.json: $(RES)/runs/%/meta.json
	$(SPECREC) evaluate $(RES)/runs/$* --out $(RES)/evals/$* --device cpu

$(RES)/report/meta.json: $(foreach r,$(RES_RUNS),$(RES)/evals/$(r)/meta.json)
	$(SPECREC) report $(foreach r,$(RES_RUNS),$(RES)/evals/$(r)) \
	  --title "ML-100K (loo, full sort, CE, windows): every method × every backbone, minilm text" \
	  --out $(RES)/report --force
