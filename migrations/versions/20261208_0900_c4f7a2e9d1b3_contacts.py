"""contacts: contact lists, contacts, opt-outs, imports and their rejected rows

Revision ID: c4f7a2e9d1b3
Revises: 5d2a8c4f1e67
Create Date: 2026-12-08 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import tenants.core.types


# revision identifiers, used by Alembic.
revision = 'c4f7a2e9d1b3'
down_revision = '5d2a8c4f1e67'
branch_labels = None
depends_on = None


def _tenant_columns(table):
    return [
        sa.Column('reseller_id', sa.String(length=32), nullable=False),
        sa.Column('organization_id', sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f(f'fk_{table}_organization_id_organizations')),
        sa.ForeignKeyConstraint(['reseller_id'], ['resellers.id'], name=op.f(f'fk_{table}_reseller_id_resellers')),
    ]


def upgrade():
    op.create_table('contact_lists',
    sa.Column('id', sa.String(length=32), nullable=False),
    *_tenant_columns('contact_lists'),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', tenants.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_lists'))
    )
    with op.batch_alter_table('contact_lists', schema=None) as batch_op:
        batch_op.create_index('ix_contact_lists_org_name', ['organization_id', 'name', 'id'], unique=False)

    op.create_table('contacts',
    sa.Column('id', sa.String(length=32), nullable=False),
    *_tenant_columns('contacts'),
    sa.Column('list_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('mobile', sa.String(length=16), nullable=False),
    sa.Column('created_at', tenants.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['list_id'], ['contact_lists.id'], name=op.f('fk_contacts_list_id_contact_lists')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts')),
    sa.UniqueConstraint('list_id', 'mobile', name='uq_contacts_list_mobile')
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index('ix_contacts_list_id', ['list_id', 'id'], unique=False)

    op.create_table('opt_outs',
    sa.Column('id', sa.String(length=32), nullable=False),
    *_tenant_columns('opt_outs'),
    sa.Column('mobile', sa.String(length=16), nullable=False),
    sa.Column('source', sa.Enum('manual', 'import', 'stop_reply', name='opt_out_source', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('created_at', tenants.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opt_outs')),
    sa.UniqueConstraint('organization_id', 'mobile', name='uq_opt_outs_org_mobile')
    )
    with op.batch_alter_table('opt_outs', schema=None) as batch_op:
        batch_op.create_index('ix_opt_outs_org_created', ['organization_id', 'created_at', 'id'], unique=False)

    op.create_table('contact_imports',
    sa.Column('id', sa.String(length=32), nullable=False),
    *_tenant_columns('contact_imports'),
    sa.Column('list_id', sa.String(length=32), nullable=True),
    sa.Column('kind', sa.Enum('contacts', 'opt_outs', name='contact_import_kind', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('added', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('created_by_user_id', sa.String(length=32), nullable=True),
    sa.Column('created_at', tenants.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_contact_imports_created_by_user_id_users')),
    sa.ForeignKeyConstraint(['list_id'], ['contact_lists.id'], name=op.f('fk_contact_imports_list_id_contact_lists')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_imports'))
    )
    with op.batch_alter_table('contact_imports', schema=None) as batch_op:
        batch_op.create_index('ix_contact_imports_org_created', ['organization_id', 'created_at'], unique=False)

    op.create_table('contact_import_rejections',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('import_id', sa.String(length=32), nullable=False),
    sa.Column('row', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('content', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['contact_imports.id'], name=op.f('fk_contact_import_rejections_import_id_contact_imports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_import_rejections'))
    )
    with op.batch_alter_table('contact_import_rejections', schema=None) as batch_op:
        batch_op.create_index('ix_contact_import_rejections_import_row', ['import_id', 'row'], unique=False)


def downgrade():
    with op.batch_alter_table('contact_import_rejections', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_import_rejections_import_row')
    op.drop_table('contact_import_rejections')
    with op.batch_alter_table('contact_imports', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_imports_org_created')
    op.drop_table('contact_imports')
    with op.batch_alter_table('opt_outs', schema=None) as batch_op:
        batch_op.drop_index('ix_opt_outs_org_created')
    op.drop_table('opt_outs')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_contacts_list_id')
    op.drop_table('contacts')
    with op.batch_alter_table('contact_lists', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_lists_org_name')
    op.drop_table('contact_lists')
