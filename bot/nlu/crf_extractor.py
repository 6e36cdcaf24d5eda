"""Rasa's CRF entity extractor, stored trained instead of trained at each load.

Rasa 3.6's `CRFEntityExtractor` keeps only its training features in the model
(crf_dataset.json, 46 MB on this project's data) and trains the CRFs anew
each time the model loads (`load` calls `train_model`): about 40 seconds of
every start of the Rasa server, for each replica and after each restart. This
subclass stores each trained CRF in CRFsuite's own binary model format (what
python-crfsuite writes and reads; no pickle) and only that.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.crf_entity_extractor import CRFEntityExtractor, CRFToken
import rasa.shared.utils.io

logger = logging.getLogger(__name__)

ORDER_FILE = "crf_order.json"


def tagger_file(tag_name: str) -> str:
    return f"crf_{tag_name}.crfsuite"


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True
)
class StoredCRFEntityExtractor(CRFEntityExtractor):
    """`CRFEntityExtractor` whose trained CRFs are stored in the model."""

    def persist(self, dataset: List[List[CRFToken]]) -> None:
        """The trained CRFs and their order; not the training features."""
        with self._model_storage.write_to(self._resource) as model_dir:
            rasa.shared.utils.io.dump_obj_as_json_to_file(Path(model_dir) / ORDER_FILE, self.crf_order)
            for tag_name, tagger in (self.entity_taggers or {}).items():
                Path(model_dir, tagger_file(tag_name)).write_bytes(Path(tagger.modelfile.name).read_bytes())

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> CRFEntityExtractor:
        import pycrfsuite
        import sklearn_crfsuite

        try:
            with model_storage.read_from(resource) as model_dir:
                crf_order = rasa.shared.utils.io.read_json_file(Path(model_dir) / ORDER_FILE)
                taggers = OrderedDict()
                for tag_name in crf_order:
                    path = Path(model_dir) / tagger_file(tag_name)
                    crf = sklearn_crfsuite.CRF()
                    # Read now: the model directory may be a temporary one,
                    # gone once this block ends. CRFsuite reads the model in
                    # place, so the bytes live as long as the CRF.
                    crf.model_bytes = path.read_bytes()
                    crf._tagger = pycrfsuite.Tagger()
                    crf._tagger.open_inmemory(crf.model_bytes)
                    taggers[tag_name] = crf
        except ValueError:
            logger.warning("Failed to load %s: resource '%s' does not exist.", cls.__name__, resource.name)
            return cls(config, model_storage, resource)
        extractor = cls(config, model_storage, resource, taggers)
        extractor.crf_order = crf_order
        return extractor
