"""LoRA settings shared by SFT and GRPO, with GOAT's published values as defaults (REFERENCE §1c: r=8, alpha=16,
dropout 0.05 on the q/v projections).

Checked against the model before training: peft's own error for target modules that do not exist is raised deep in
the trainer, after the dataset was tokenized; ours names the linear layers the model does have.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from .errors import TrainingInputError

__all__ = ["LoraSettings"]


class LoraSettings(BaseModel):
    enabled: bool = True
    r: int = Field(8, ge=1)
    alpha: int = Field(16, ge=1)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "v_proj"])

    def peft_config(self, model: Any = None) -> Any:
        """A peft ``LoraConfig`` (None when LoRA is off); with ``model``, check the target modules exist first."""
        if not self.enabled:
            return None
        if model is not None:
            self.check_targets(model)
        from peft import LoraConfig

        return LoraConfig(
            r=self.r,
            lora_alpha=self.alpha,
            lora_dropout=self.dropout,
            target_modules=list(self.target_modules),
            task_type="CAUSAL_LM",
        )

    def check_targets(self, model: Any) -> None:
        import torch

        linear = sorted(
            {name.rsplit(".", 1)[-1] for name, mod in model.named_modules() if isinstance(mod, torch.nn.Linear)}
        )
        missing = [t for t in self.target_modules if t not in linear]
        if missing:
            raise TrainingInputError(
                f"--lora-target {', '.join(missing)}: the model has no linear layer of that name "
                f"(its linear layers: {', '.join(linear)})"
            )
