"""Fine-tuning on a shop's own judgments: training data, trainers and vocabulary extension."""
