"""specrec.embed.encoders."""
