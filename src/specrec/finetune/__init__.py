"""`specrec finetune`: LLMEmb's supervised contrastive fine-tuning (SCFT) of an encoder, LoRA."""
