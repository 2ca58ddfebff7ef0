# `make bench`: the recorded benchmarks (results go to bench/results/; see bench/README.md).

BENCH ?= work/bench

.PHONY: bench bench-throughput bench-transform bench-samples bench-scale
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
# full-sort evaluation, each beside its compute bound (about 20 minutes on 2 cores; raw files kept)
bench-scale: $(STAMP)
	$(BIN)/python bench/scale.py all --work $(BENCH)-scale --report bench/results/scale.md
