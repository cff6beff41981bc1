//! `partner users list | get | create | update | delete`.

use partner_sdk::PoderoClient;
use partner_sdk::podero::{NewUser, Role, UserId, UserUpdate};

use super::print_json;
use crate::cli::{RoleArg, UserFields, UsersArgs, UsersCommand};
use crate::config::Overrides;
use crate::error::CliError;

pub(crate) async fn run(args: UsersArgs, overrides: &Overrides) -> Result<(), CliError> {
    let client = PoderoClient::from_lookup(overrides.lookup(podero_auth::ENV_BASE_URL))?;
    let users = client.users();
    match args.command {
        UsersCommand::List => print_json(&users.list().await?),
        UsersCommand::Get { user_id } => print_json(&users.get(&parse_id(&user_id)?).await?),
        UsersCommand::Create {
            email,
            role,
            fields,
        } => {
            let user = fields.apply_new(NewUser::new(email, role.into()));
            print_json(&users.create(&user).await?)
        }
        UsersCommand::Update {
            user_id,
            email,
            role,
            fields,
        } => {
            let mut update = fields.apply_update(UserUpdate::new());
            if let Some(email) = email {
                update = update.email(email);
            }
            if let Some(role) = role {
                update = update.role(role.into());
            }
            if update.is_empty() {
                return Err(CliError::usage(
                    "nothing to update",
                    "pass at least one field, e.g. --town Berlin",
                ));
            }
            print_json(&users.update(&parse_id(&user_id)?, &update).await?)
        }
        UsersCommand::Delete { user_id } => {
            users.delete(&parse_id(&user_id)?).await.map_err(Into::into)
        }
    }
}

fn parse_id(text: &str) -> Result<UserId, CliError> {
    text.parse().map_err(|_| {
        CliError::usage(
            format!("{text:?} is not a user id"),
            "user ids are UUIDs, as `partner users list` prints them",
        )
    })
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::User => Role::User,
            RoleArg::Staff => Role::Staff,
            RoleArg::Admin => Role::Admin,
        }
    }
}

/// Applies the optional flags to either request type.
macro_rules! apply_fields {
    ($fields:expr, $request:expr) => {{
        let fields = $fields;
        let mut request = $request;
        if let Some(value) = fields.external_user_id {
            request = request.external_user_id(value);
        }
        if let Some(value) = fields.first_name {
            request = request.first_name(value);
        }
        if let Some(value) = fields.last_name {
            request = request.last_name(value);
        }
        if let Some(value) = fields.zip_code {
            request = request.zip_code(value);
        }
        if let Some(value) = fields.town {
            request = request.town(value);
        }
        if let Some(value) = fields.country {
            request = request.country(value);
        }
        request
    }};
}

impl UserFields {
    fn apply_new(self, user: NewUser) -> NewUser {
        apply_fields!(self, user)
    }

    fn apply_update(self, update: UserUpdate) -> UserUpdate {
        apply_fields!(self, update)
    }
}
