# `make llmemb`: LLMEmb end to end on ML-100K with the bundled MiniLM (docs/llmemb.md): its data
# recipe -> SCFT (LLMEMB_STEPS LoRA steps on the CPU) -> embed with the adapter -> transform
# llmemb -> RAT aligned to an ID-only SASRec teacher -> evaluate full sort and sampled-100;
# beside it the same without SCFT (the plain MiniLM) and the teacher itself. Every run
# early-stops on sampled-100 validation NDCG@10, as LLMEmb does.

LLMEMB       ?= work/llmemb
LLMEMB_STEPS ?= 300
LLMEMB_DIM   := 64
LLMEMB_TRAIN := --backbone sasrec --dim $(LLMEMB_DIM) --samples windows --epochs 200 --patience 10 \
                --valid-protocol sampled --valid-negatives 100 --threads 1 --device cpu
LLMEMB_RUNS  := teacher llmemb-base llmemb-scft
LLMEMB_EVALS := $(foreach r,$(LLMEMB_RUNS),$(r)-full $(r)-sampled)

.PHONY: llmemb
# pattern-rule artifacts are make's "intermediate" files: keep their meta.json (make would delete it)
.PRECIOUS: $(LLMEMB)/tables/%/meta.json $(LLMEMB)/runs/%/meta.json $(LLMEMB)/evals/%/meta.json
llmemb: $(STAMP)
	$(MAKE) --no-print-directory -j2 $(LLMEMB)/report/meta.json
	@cat $(LLMEMB)/report/results.md

$(LLMEMB)/data/meta.json: $(STAMP)
	$(SPECREC) preprocess ml-100k --out $(LLMEMB)/data --filter one-pass --min-user 3 \
	  --min-item 3 --text-template llmemb --drop-items-without-text

$(LLMEMB)/emb-base/meta.json: $(LLMEMB)/data/meta.json
	$(SPECREC) embed --dataset $(LLMEMB)/data --encoder minilm --out $(LLMEMB)/emb-base --device cpu

$(LLMEMB)/scft/meta.json: $(LLMEMB)/data/meta.json
	$(SPECREC) finetune --dataset $(LLMEMB)/data --encoder minilm --steps $(LLMEMB_STEPS) \
	  --batch-size 32 --device cpu --out $(LLMEMB)/scft

$(LLMEMB)/emb-scft/meta.json: $(LLMEMB)/scft/meta.json
	$(SPECREC) embed --dataset $(LLMEMB)/data --adapter $(LLMEMB)/scft --out $(LLMEMB)/emb-scft \
	  --device cpu

$(LLMEMB)/tables/%/meta.json: $(LLMEMB)/emb-%/meta.json
	$(SPECREC) transform llmemb --embeddings $(LLMEMB)/emb-$* --dataset $(LLMEMB)/data \
	  --dim $(LLMEMB_DIM) --out $(LLMEMB)/tables/$*

$(LLMEMB)/runs/teacher/meta.json: $(LLMEMB)/data/meta.json
	$(SPECREC) train --dataset $(LLMEMB)/data $(LLMEMB_TRAIN) --out $(LLMEMB)/runs/teacher

$(LLMEMB)/runs/llmemb-%/meta.json: $(LLMEMB)/tables/%/meta.json $(LLMEMB)/runs/teacher/meta.json
	$(SPECREC) train --dataset $(LLMEMB)/data --table $(LLMEMB)/tables/$* $(LLMEMB_TRAIN) \
	  --embedder-opt teacher=$(LLMEMB)/runs/teacher --out $(LLMEMB)/runs/llmemb-$*

$(LLMEMB)/evals/%-full/meta.json: $(LLMEMB)/runs/%/meta.json
	$(SPECREC) evaluate $(LLMEMB)/runs/$* --out $(LLMEMB)/evals/$*-full --device cpu

$(LLMEMB)/evals/%-sampled/meta.json: $(LLMEMB)/runs/%/meta.json
	$(SPECREC) evaluate $(LLMEMB)/runs/$* --protocol sampled --negatives 100 --groups \
	  --out $(LLMEMB)/evals/$*-sampled --device cpu

$(LLMEMB)/report/meta.json: $(foreach e,$(LLMEMB_EVALS),$(LLMEMB)/evals/$(e)/meta.json)
	$(SPECREC) report $(foreach e,$(LLMEMB_EVALS),$(LLMEMB)/evals/$(e)) \
	  --title "LLMEmb on ML-100K (loo) with minilm: SCFT vs w/o SCFT, full sort and sampled-100" \
	  --out $(LLMEMB)/report
