"""Group configs (KIP-932's share-group settings): checked at the controller, kept in
the metadata image and its snapshots, over the broker's [groups] settings."""

import pytest

from kraft.config.cluster_tables import GroupSettings
from kraft.config.group_configs import GroupConfigError, checked_changes, effective
from kraft.controller.config_control import alter_group_configs
from kraft.errors import InvalidConfig, InvalidValue
from kraft.metadata.delta import MetadataDelta
from kraft.metadata.image import MetadataImage
from kraft.metadata.image_codec import image_from_dict, image_to_dict


def applied(image: MetadataImage, records) -> MetadataImage:
    delta = MetadataDelta(image, image.offset + 1)
    for record in records:
        delta.replay(record)
    return delta.apply()


def test_a_group_config_is_stored_replayed_and_kept_in_snapshots():
    image = applied(MetadataImage(), alter_group_configs("workers", {
        "share.auto.offset.reset": "earliest", "share.record.lock.duration.ms": 5000}).records)
    assert image.group_configs == {"workers": {"share.auto.offset.reset": "earliest",
                                               "share.record.lock.duration.ms": "5000"}}
    assert image_from_dict(image_to_dict(image)).group_configs == image.group_configs
    removed = applied(image, alter_group_configs("workers", {"share.auto.offset.reset": None,
                                                             "share.record.lock.duration.ms": None}).records)
    assert removed.group_configs == {}


def test_bad_names_and_values_are_refused():
    for changes in ({"share.auto.offset.reset": "middle"}, {"share.record.lock.duration.ms": "999"},
                    {"share.delivery.count.limit": "x"}, {"session.timeout.ms": "1000"}):
        with pytest.raises(InvalidConfig):
            alter_group_configs("g", changes)
    with pytest.raises(InvalidValue):
        alter_group_configs("", {"share.auto.offset.reset": "earliest"})
    with pytest.raises(GroupConfigError, match="known: errors.deadletterqueue.copy.record.enable, "):
        checked_changes({"nope": "1"})


def test_a_group_without_its_own_value_takes_the_brokers():
    settings = GroupSettings.model_validate({"group.share.record.lock.duration.ms": 7000})
    configs = effective({"share.delivery.count.limit": "3"}, settings)
    assert configs["share.record.lock.duration.ms"] == ("7000", False)
    assert configs["share.delivery.count.limit"] == ("3", True)
    assert configs["share.auto.offset.reset"] == ("latest", False)
