"""The login-as (remote support) blueprint."""

from flask import Blueprint

bp = Blueprint("support", __name__)
