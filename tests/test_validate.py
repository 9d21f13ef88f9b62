"""tools.json_in(schema=...): JSON bodies checked against a dataclass."""
from __future__ import annotations

import dataclasses
from typing import Literal

import pytest

import app.core as cherrypy
from app.core.lib.validate import ValidationError, validate
from app.core.testing import Client


@dataclasses.dataclass
class Line:
    sku: str
    quantity: int = 1


@dataclasses.dataclass
class Order:
    customer: str
    lines: list[Line]
    note: str | None = None
    priority: Literal['normal', 'rush'] = 'normal'
    discount: float = 0.0
    tags: dict[str, str] = dataclasses.field(default_factory=dict)


class Root:
    @cherrypy.expose
    @cherrypy.tools.json_in(schema=Order)
    @cherrypy.tools.json_out()
    def orders(self):
        order = cherrypy.request.json
        assert isinstance(order, Order)
        return {'customer': order.customer, 'units': sum(ln.quantity for ln in order.lines),
                'discount': order.discount}


def test_a_valid_body_arrives_as_the_dataclass():
    cherrypy.tree.mount(Root(), '')
    r = Client().post('/orders', json={'customer': 'ada', 'lines': [{'sku': 'a'},
                                       {'sku': 'b', 'quantity': 3}], 'discount': 1})
    assert r.status == 200 and r.json() == {'customer': 'ada', 'units': 4, 'discount': 1.0}


def test_every_field_error_is_listed_in_a_problem_document():
    cherrypy.tree.mount(Root(), '')
    r = Client().post('/orders', json={'lines': [{'sku': 5}, {'quantity': 'x'}], 'extra': 1,
                                       'priority': 'urgent', 'note': 3, 'tags': {'a': 1}})
    assert r.status == 400 and r.headers['Content-Type'] == 'application/problem+json'
    doc = r.json()
    assert doc['status'] == 400 and doc['title'] == 'Bad Request'
    assert {(e['field'], e['message']) for e in doc['errors']} == {
        ('extra', 'is not a known field'),
        ('customer', 'is required'),
        ('lines[0].sku', 'must be a string'),
        ('lines[1].sku', 'is required'),
        ('lines[1].quantity', 'must be an integer'),
        ('note', 'must be a string or null'),
        ('priority', 'must be one of "normal", "rush"'),
        ('tags.a', 'must be a string'),
    }
    assert doc['detail'] == 'The JSON body has 8 errors.'


@pytest.mark.parametrize('data, message', [
    ([1], 'must be a JSON object'), ('x', 'must be a JSON object'),
])
def test_a_body_that_is_not_an_object(data, message):
    with pytest.raises(ValidationError) as info:
        validate(Order, data)
    assert info.value.errors == [{'field': '', 'message': message}]


def test_bools_are_not_numbers_and_ints_are_floats():
    @dataclasses.dataclass
    class N:
        n: int
        x: float
    assert validate(N, {'n': 1, 'x': 2}) == N(1, 2.0)
    with pytest.raises(ValidationError) as info:
        validate(N, {'n': True, 'x': False})
    assert [e['field'] for e in info.value.errors] == ['n', 'x']


@pytest.mark.parametrize('headers, status, text', [
    ({'Content-Type': 'application/json'}, 400, b'needs a JSON body (Order)'),
    ({}, 400, b'needs a JSON body (Order)'),
    ({'Content-Type': 'text/plain'}, 415, b'Expected an entity of content type'),
])
def test_no_body_where_a_schema_is_expected_is_a_4xx_not_a_none(headers, status, text):
    cherrypy.tree.mount(Root(), '')
    r = Client().post('/orders', headers=headers)
    assert r.status == status and text in r.body


def test_a_malformed_body_is_still_a_400_before_validation():
    cherrypy.tree.mount(Root(), '')
    r = Client().post('/orders', body='{not json', headers={'Content-Type': 'application/json'})
    assert r.status == 400 and b'Invalid JSON document' in r.body


def test_the_readme_example_answers_as_documented():
    @dataclasses.dataclass
    class Order:  # noqa: F811 (the README's own)
        item: str
        quantity: int = 1
    with pytest.raises(ValidationError) as info:
        validate(Order, {'quantity': 'x'})
    assert info.value.errors == [{'field': 'item', 'message': 'is required'},
                                 {'field': 'quantity', 'message': 'must be an integer'}]
    assert info.value.message == 'The JSON body has 2 errors.'
