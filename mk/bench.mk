# `make bench`: the recorded benchmarks (results go to bench/results/; see bench/README.md).

BENCH ?= work/bench

.PHONY: bench bench-throughput bench-transform bench-samples bench-scale bench-precision
bench: bench-throughput bench-transform

bench-throughput: $(STAMP)
	$(SPECREC) preprocess ml-100k --out $(BENCH)/ml-100k
	$(BIN)/python bench/throughput.py --dataset $(BENCH)/ml-100k --threads 1 | tee bench/results/throughput.md

bench-transform: $(STAMP)
	$(BIN)/python bench/transform_scale.py --rows 100000 --cols 4096 --dim 64 --out /tmp/specrec-bench \
	  --threads 2 --repeat 3 --svd-timeout 600 --report $(BENCH)/transform_scale.md

# SASRec prefixes vs windows, 3 seeds each (about 2 h on one core for the prefixes)
bench-samples: $(STAMP)
	for s in 0 1 2; do bench/sasrec_samples.sh windows $$s; bench/sasrec_samples.sh prefixes $$s; done
	$(SPECREC) report $(foreach m,prefixes windows,$(foreach s,0 1 2,$(BENCH)/sasrec-$(m)-s$(s)-test)) \
	  --out $(BENCH)/samples-report --force

# ML-20M-shaped synthetic data and a million-item catalogue: preprocess, fixed-step training and
# full-sort evaluation, each beside its bound (about 10–15 minutes on 2 cores; raw files kept);
# the table goes to work/bench-scale/scale.md (bench/results/scale.md is the annotated record)
bench-scale: $(STAMP)
	$(BIN)/python bench/scale.py all --work $(BENCH)-scale --report $(BENCH)-scale/scale.md

# SASRec ID-only on ML-100K in float32 and in bf16 autocast, 3 seeds each, the two precisions side
# by side on the two cores (one thread each): the parity check of --precision bf16
bench-precision: $(STAMP)
	$(SPECREC) preprocess ml-100k --out $(BENCH)/ml-100k
	TAG=fp32 bench/backbone_id_only.sh sasrec --precision fp32 & fp32=$$!; \
	  TAG=bf16 bench/backbone_id_only.sh sasrec --precision bf16 && wait $$fp32
	$(SPECREC) report $(foreach p,fp32 bf16,$(foreach s,0 1 2,$(BENCH)/sasrec-$(p)-s$(s)-test)) \
	  --out $(BENCH)/precision-report --force
	@for p in fp32 bf16; do for s in 0 1 2; do printf '%s s%s ' $$p $$s; \
	  $(BIN)/python -c "import json,sys; m=json.load(open(sys.argv[1]))['stats']; \
	  print(m['best_epoch'], m['epochs'], round(m['targets_per_second']))" \
	  $(BENCH)/sasrec-$$p-s$$s/meta.json; done; done
