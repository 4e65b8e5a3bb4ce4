"""The BentoML service: `bentoml serve service.service:EmotionService` (see service/README.md)."""
